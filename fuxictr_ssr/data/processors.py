"""Dataset-specific fuxictr feature processors (named by ``feature_processor`` in a dataset config)."""
import polars as pl
from fuxictr.preprocess import FeatureProcessor

AGE_BUCKET_EDGES = (10, 20, 30, 40, 50, 60)


class KKBoxFeatureProcessor(FeatureProcessor):
    """BARS KKBox_x1 preprocessing, as vectorised polars expressions.

    ``extract_country_code``: the first two characters of the ISRC code.
    ``bucketize_age``: ages outside 1..95 (or missing) -> "", else "1" for <=10, "2" for <=20,
    ... "6" for <=60, "7" above.
    """

    def extract_country_code(self, col_name):
        return pl.col(col_name).str.slice(0, 2).fill_null("")

    def bucketize_age(self, col_name):
        age = pl.col(col_name).cast(pl.Float64, strict=False)
        bucket = pl.when(age.is_null() | (age < 1) | (age > 95)).then(pl.lit(""))
        for index, edge in enumerate(AGE_BUCKET_EDGES, start=1):
            bucket = bucket.when(age <= edge).then(pl.lit(str(index)))
        return bucket.otherwise(pl.lit(str(len(AGE_BUCKET_EDGES) + 1)))


class CriteoX4FeatureProcessor(FeatureProcessor):
    """BARS Criteo_x4 preprocessing: I1-I13 become categorical buckets.

    ``convert_to_bucket``: missing -> 0; ``x > 2`` -> ``floor(ln(x)^2)``; other values kept.
    """

    def convert_to_bucket(self, col_name):
        value = pl.col(col_name).cast(pl.Float64, strict=False).fill_null(0)
        bucket = pl.when(value > 2).then((value.log() ** 2).floor()).otherwise(value)
        return bucket.cast(pl.Int64).cast(pl.Utf8)


class AvazuX4FeatureProcessor(FeatureProcessor):
    """BARS Avazu_x4 preprocessing of ``hour`` (``YYMMDDHH``).

    ``convert_hour``: the hour of day (``HH``); ``convert_weekday(hour)``: day of week (1 = Monday);
    ``convert_weekend(hour)``: "1" on Saturday and Sunday, else "0".
    """

    def convert_hour(self, col_name):
        return pl.col(col_name).cast(pl.Utf8).str.slice(6, 2)

    @staticmethod
    def _weekday(col_name):
        return pl.col(col_name).cast(pl.Utf8).str.slice(0, 6).str.strptime(pl.Date, "%y%m%d").dt.weekday()

    def convert_weekday(self, col_name):
        return self._weekday(col_name).cast(pl.Utf8)

    def convert_weekend(self, col_name):
        return (self._weekday(col_name) >= 6).cast(pl.Int8).cast(pl.Utf8)
