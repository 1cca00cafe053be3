from setuptools import find_packages, setup

MODELS = ["SSR", "DNN", "DeepFM", "DCNv2", "RankMixer", "WuKong"]

setup(
    name="fuxictr-ssr",
    version="0.1.0",
    description="SSR (explicit sparsity for scalable CTR recommendation) as a FuxiCTR model plugin",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["fuxictr_ssr", "fuxictr_ssr.*"]),
    python_requires=">=3.10",
    install_requires=[
        "fuxictr>=2.3.9,<2.4",
        "torch>=2.1",
        "numpy",
        "pandas",
        "h5py",
        "pyyaml",
        "scikit-learn",
        "scipy",
        # polars 2 works through compat.PolarsWithDtypes (fuxictr's scan_csv(dtypes=...))
        "polars>=1.34,<3",
        # the sparsity, scale and tune reports draw figures after all their work: never optional
        "matplotlib",
    ],
    extras_require={
        "test": ["pytest", "pytest-timeout", "optuna", "onnx", "onnxscript", "onnxruntime", "tensorboard"],
        "tune": ["optuna"],
        # export --format onnx: torch's torch.export-based exporter writes with onnx and onnxscript;
        # onnxruntime runs the parity check (and serves)
        "export": ["onnx", "onnxscript", "onnxruntime"],
        # log_to: tensorboard (the training curves as TensorBoard scalars)
        "tensorboard": ["tensorboard"],
    },
    entry_points={
        "console_scripts": ["fuxictr-ssr=fuxictr_ssr.cli:main"],
        "fuxictr.models": [f"{name}=fuxictr_ssr.models:{name}" for name in MODELS],
    },
)
