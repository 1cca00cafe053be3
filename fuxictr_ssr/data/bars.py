"""The datasets the benchmark suite knows (BARS's and MovieLens-100K): columns, raw formats and published checksums."""
from dataclasses import dataclass, field

CRITEO_NUMERIC = [f"I{i}" for i in range(1, 14)]
CRITEO_CATEGORICAL = [f"C{i}" for i in range(1, 27)]
AVAZU_RAW_COLUMNS = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain",
                     "site_category", "app_id", "app_domain", "app_category", "device_id",
                     "device_ip", "device_model", "device_type", "device_conn_type",
                     "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]


@dataclass(frozen=True)
class BarsDataset:
    """One benchmark dataset.

    Args:
        name: folder name in ``benchmark_configs/`` and in the data root.
        source: how ``data prepare`` reads it: ``x1`` (BARS csv or AFN libsvm), ``criteo_raw``
            (Kaggle tab-separated file), ``avazu_raw`` (Kaggle csv), ``movielens100k`` (GroupLens's
            ml-100k folder, :mod:`fuxictr_ssr.data.movielens`).
        fields: feature columns of the x1 csv, in the libsvm token order.
        libsvm_value_fields: fields whose libsvm value (after ':') is kept instead of the index.
        md5: published md5 of the BARS csvs by split.
        reference: BARS name (reczoo's download) quoted in messages.
    """
    name: str
    source: str
    fields: list = field(default_factory=list)
    libsvm_value_fields: tuple = ()
    md5: dict = field(default_factory=dict)
    reference: str = ""


DATASETS = {d.name: d for d in [
    BarsDataset("Criteo_x1", "x1", CRITEO_NUMERIC + CRITEO_CATEGORICAL, tuple(CRITEO_NUMERIC),
                {"train": "30b89c1c7213013b92df52ec44f52dc5", "valid": "f73c71fb3c4f66b6ebdfa032646bea72",
                 "test": "2c48b26e84c04a69b948082edae46f8c"}, "reczoo/Criteo_x1"),
    BarsDataset("Avazu_x1", "x1", [f"feat_{i}" for i in range(1, 23)], (),
                {"train": "f1114a07aea9e996842c71648e0f6395", "valid": "d9568f246357d156c4b8030fadb8b623",
                 "test": "9e2fe9c48705c9315ae7a0953eb57acf"}, "reczoo/Avazu_x1"),
    BarsDataset("Frappe_x1", "x1", ["user", "item", "daytime", "weekday", "isweekend", "homework",
                                    "cost", "weather", "country", "city"], (),
                {"train": "ba7306e6c4fc19dd2cd84f2f0596d158", "valid": "88d51bf2173505436d3a8f78f2a59da8",
                 "test": "3470f6d32713dc5f7715f198ca7c612a"}, "reczoo/Frappe_x1"),
    BarsDataset("MovielensLatest_x1", "x1", ["user_id", "item_id", "tag_id"], (),
                {"train": "efc8bceeaa0e895d566470fc99f3f271", "valid": "e1930223a5026e910ed5a48687de8af1",
                 "test": "54e8c6baff2e059fe067fb9b69e692d0"}, "reczoo/MovielensLatest_x1"),
    BarsDataset("KKBox_x1", "x1", [], (),
                {"train": "195b1ae8fc2d9267d7c8656c07ea1304", "valid": "398e97ac139611a09bd61a58e4240a3e",
                 "test": "8c5f7add05a6f5258b6b3bcc00ba640b"}, "reczoo/KKBox_x1"),
    BarsDataset("Criteo_x4_001", "criteo_raw", ["Label"] + CRITEO_NUMERIC + CRITEO_CATEGORICAL,
                reference="Kaggle Criteo Display Advertising Challenge train.txt"),
    BarsDataset("Avazu_x4_001", "avazu_raw", AVAZU_RAW_COLUMNS,
                reference="Kaggle Avazu CTR Prediction train.csv"),
    # The SSR paper's protocol (random 8:1:1 of the raw files; its seed is not published, so the
    # x4 seed is used and the files equal the x4 ones; the folders differ in min count and batch)
    BarsDataset("Criteo_paper", "criteo_raw", ["Label"] + CRITEO_NUMERIC + CRITEO_CATEGORICAL,
                reference="Kaggle Criteo Display Advertising Challenge train.txt"),
    BarsDataset("Avazu_paper", "avazu_raw", AVAZU_RAW_COLUMNS,
                reference="Kaggle Avazu CTR Prediction train.csv"),
    # not a BARS dataset: a second real dataset with user and item side features
    BarsDataset("MovieLens100K", "movielens100k", reference="GroupLens MovieLens 100K (ml-100k)"),
]}


def find_dataset(name):
    """Look a dataset up by name, case-insensitively; ``ValueError`` lists the known ones."""
    for known, dataset in DATASETS.items():
        if known.lower() == name.lower():
            return dataset
    raise ValueError(f"dataset: unknown dataset {name!r}; known: {', '.join(DATASETS)}")
