"""Series: the daily aggregate, statistics and list rows (spark.py, Spark glue) and SeriesBatch (batch.py, no
Spark), the one gap-free block every Python-side stage reads. Import the submodules directly: this package
imports nothing, so the Spark-free half stays importable without pyspark."""
