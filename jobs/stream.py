"""spark-submit entry point: the same intraday stream as `skuplan stream`.

spark-submit --jars .cache/jars/spark-sql-kafka-0-10_2.13-4.2.0.jar,... jobs/stream.py --conf conf
spark-submit jobs/stream.py --conf conf --available-now      # a scheduled job: what is there now, then stop
"""

import sys

from skuplan.cli import main

if __name__ == "__main__":
    sys.exit(main(["stream", *sys.argv[1:]]))
