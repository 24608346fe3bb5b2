"""The Chinese edition's two repairs to Sphinx's i18n: glued numbers inside translated
paragraphs, and translated part captions in the table of contents.

Sphinx's i18n parses each translated paragraph as a small document of its own. That document
lacks the notebook's glue data, which myst-nb keeps on the notebook's renderer only while it
parses the page, so `{glue:text}` and `{glue:md}` found nothing there. This extension remembers
the renderer of the notebook being read (pages are read one at a time) and lends it to the
translated paragraphs of that notebook.

The part captions of _toc.yml are extracted into the root page's catalog, but sphinx-external-toc
adds its toctrees after the translation ran; `translate_captions` looks them up afterwards.
"""

from os import path

from myst_nb import sphinx_
from myst_nb.ext.glue import roles, utils
from sphinx import addnodes
from sphinx.locale import init as init_locale
from sphinx.util.i18n import docname_to_domain

_last = {}
_load_renderer = sphinx_.load_renderer
_retrieve = utils.retrieve_glue_data


def load_renderer(name):
    renderer_class = _load_renderer(name)

    def create(*args, **kwargs):
        _last["renderer"] = renderer = renderer_class(*args, **kwargs)
        return renderer

    return create


def retrieve_glue_data(document, key):
    renderer = _last.get("renderer")
    if "nb_renderer" in document or renderer is None:
        return _retrieve(document, key)
    page = renderer.renderer.document["source"]
    if not document.current_source.startswith(f"{page}:"):  # not a translated paragraph of that page
        return _retrieve(document, key)
    document["nb_renderer"] = renderer
    try:
        return _retrieve(document, key)
    finally:  # the document is pickled with the page: it must not keep the renderer
        del document["nb_renderer"]


def translate_captions(app, doctree):
    if not app.config.language or app.config.language == "en":
        return
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    dirs = [path.join(app.srcdir, d) for d in app.config.locale_dirs]
    catalog, found = init_locale(dirs, app.config.language, domain)
    if not found:
        return
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption"):
            toctree["caption"] = toctree["rawcaption"] = catalog.gettext(toctree["caption"])


def setup(app):
    sphinx_.load_renderer = load_renderer
    utils.retrieve_glue_data = roles.retrieve_glue_data = retrieve_glue_data
    app.connect("doctree-read", translate_captions)
    return {"parallel_read_safe": False, "parallel_write_safe": True}
