"""Write the book's configuration with its repository, so the pages get launch buttons.

    python .ci/book_config.py URL OUT.yml

Colab and Binder open a page's student edition (book/_ext/student_edition.py) from where the
book is published: the built site pushed to the repository's `gh-pages` branch (README), which
holds it as `_sources/notebooks/NN_*.ipynb` (the Chinese one under `zh/`) and a `binder/`
environment. Only the publisher knows the repository: `make book` passes `REPOSITORY_URL`, or
the `origin` remote of the clone it runs in. The result is `_config.yml` plus `repository.url`,
the published branch and folder, and the two services; an empty or non-GitHub URL is refused,
because Colab opens notebooks from GitHub only.
"""

import re
import sys
from pathlib import Path

import yaml

PUBLISHED = {"branch": "gh-pages", "path_to_book": "_sources"}  # where the buttons' notebooks are
LAUNCH = {"binderhub_url": "https://mybinder.org", "colab_url": "https://colab.research.google.com"}
GITHUB = re.compile(r"^(?:https://github\.com/|git@github\.com:|ssh://git@github\.com/)"
                    r"(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")


def github_url(url):
    """https://github.com/OWNER/NAME for any usual spelling of a GitHub remote, else ValueError."""
    m = GITHUB.match(url.strip())
    if not m:
        raise ValueError(f"repository URL {url!r} is not a GitHub repository; launch buttons need "
                         "one like https://github.com/OWNER/prodgen-lessons (Colab opens GitHub only)")
    return f"https://github.com/{m['owner']}/{m['name']}"


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    root = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((root / "_config.yml").read_text())
    try:
        config.setdefault("repository", {}).update(url=github_url(argv[1]), **PUBLISHED)
        config.setdefault("launch_buttons", {}).update(LAUNCH)
    except ValueError as e:
        sys.exit(f"error: {e}")
    out = Path(argv[2])
    # Jupyter Book resolves local extensions against the config file's folder, which moves here.
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in extensions.items():
        extensions[name] = str((root / path).resolve())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    print(f"launch buttons for {config['repository']['url']} (branch {config['repository']['branch']})")


if __name__ == "__main__":
    main(sys.argv)
