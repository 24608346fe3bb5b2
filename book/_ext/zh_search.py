"""Chinese search for the Chinese edition: its words and its character pairs are index terms.

Sphinx's own Chinese search splits the pages into words with `jieba`, but the browser cannot run
jieba on a query, so a phrase such as 灾难性遗忘 (which jieba indexes as 灾难性 + 遗忘) finds
nothing. Here every run of Chinese characters is indexed both as jieba's words and as its
overlapping character pairs, and the query is split into the same pairs in the browser: a page
matches when it holds every pair of the query, the way CJK search engines (bigram indexing)
match a phrase without a dictionary. A one-character query matches jieba's one-character words.
"""

import re

from sphinx.search.zh import SearchChinese

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def pairs(text):
    """Overlapping character pairs of every run of Chinese characters (a lone character itself)."""
    out = []
    for run in CJK.findall(text):
        out += [run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)]
    return out


class SearchChinesePairs(SearchChinese):
    lang = "zh"
    # The browser's half: the query's Chinese runs become the same pairs, the rest words as usual.
    js_splitter_code = r"""
function splitQuery(query) {
  const terms = [];
  const cjk = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/g;
  for (const run of query.match(cjk) || []) {
    if (run.length === 1) terms.push(run);
    for (let i = 0; i + 1 < run.length; i++) terms.push(run.slice(i, i + 2));
  }
  for (const word of query.replace(cjk, " ").split(/[^\p{L}\p{N}_]+/gu)) if (word) terms.push(word);
  return terms;
}
"""

    def split(self, input):
        return super().split(input) + pairs(input)


def setup(app):
    app.add_search_language(SearchChinesePairs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
