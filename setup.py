"""Build qdc's optional C extension (qdc/_native/*.c, one module); everything else is in pyproject.toml.

`optional=True`: where no C compiler is available the build goes on without it and qdc uses its numpy code
(the same results, slower; `qdc._native.AVAILABLE` says which path is active).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "qdc._native._hashing",
            sources=[f"qdc/_native/{name}.c" for name in ("hashing", "rminhash", "lsh", "jsonkeys")],
            depends=["qdc/_native/native.h", "qdc/_native/xxh3.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    ]
)
