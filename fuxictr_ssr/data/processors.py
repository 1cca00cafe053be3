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
