"""Build hook: compile the proxy hot path and data path with Cython when a compiler is there.

One source, two builds (STYLE.md): every ``X.pxd`` under ``gateway_proxy/`` names
an extension module ``X`` compiled from ``X.pyx`` if present, else from ``X.py``
(a pure-Python module the ``.pxd`` adds C types to). With no C compiler, or with
``ROUTESHIFT_NO_EXTENSIONS=1``, nothing is compiled and the pure-Python builds
serve; the runtime selector logs that in one line.
"""

import os
import pathlib
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = pathlib.Path(__file__).parent
HOT_PATH_PACKAGE = "gateway_proxy"
# Modules that link OpenSSL's libcrypto, with the header they need: built only where it is
# (Debian: libssl-dev); without them the C loop leaves session persistence to the asyncio path.
LIBCRYPTO_MODULES = {"loop_sessions": "openssl/hmac.h"}


def _extension_sources():
    for pxd in sorted((ROOT / HOT_PATH_PACKAGE).rglob("*.pxd")):
        pyx = pxd.with_suffix(".pyx")
        source = pyx if pyx.exists() else pxd.with_suffix(".py")
        if source.exists():
            yield source.relative_to(ROOT)


def _has_header(name):
    folders = ["/usr/include", "/usr/local/include"]
    for variable in ("CPATH", "C_INCLUDE_PATH"):
        folders += [folder for folder in os.environ.get(variable, "").split(os.pathsep) if folder]
    return any((pathlib.Path(folder) / name).exists() for folder in folders)


def _extensions():
    if os.environ.get("ROUTESHIFT_NO_EXTENSIONS") == "1":
        print("routeshift: ROUTESHIFT_NO_EXTENSIONS=1, building pure Python only", file=sys.stderr)
        return []
    sources = [str(path) for path in _extension_sources()]
    if not sources:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("routeshift: Cython missing, building pure Python only", file=sys.stderr)
        return []
    extensions = []
    for source in sources:
        header = LIBCRYPTO_MODULES.get(pathlib.Path(source).stem)
        if header is not None and not _has_header(header):
            print(f"routeshift: {source} not built (no <{header}>: install libssl-dev)", file=sys.stderr)
            continue
        # One module at a time: a Cython error in one (a new data-plane module, say) must not
        # turn off the others, which the runtime selectors would then report as missing.
        try:
            # Types come from the .pxd alone: the annotations in the shared sources document the pure
            # build, and Cython would read them as C types (``tuple[str, int]`` as a C tuple).
            built = cythonize([source], language_level="3",
                              compiler_directives={"binding": False, "annotation_typing": False})
        except Exception as error:  # a Cython compile error: that module is served pure or not at all
            print(f"routeshift: Cython could not translate {source} ({error}); it is not built", file=sys.stderr)
            continue
        for extension in built if header is not None else ():
            extension.libraries.append("crypto")
        extensions += built
    return extensions


class OptionalBuildExt(build_ext):
    """A failed compile (no gcc, no headers) falls back to pure Python instead of failing the install.

    The modules compile in parallel, one per core: they are independent, and serially the C
    compiler was a noticeable part of a fresh install (and so of every CI run).
    """

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self):
        try:
            super().run()
        except Exception as error:  # setuptools raises several distutils error types here
            print(f"routeshift: C extensions not built ({error}); pure Python will be used", file=sys.stderr)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as error:
            print(f"routeshift: {ext.name} not built ({error}); pure Python will be used", file=sys.stderr)


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
