#!/usr/bin/env bash
# Copies an Apache Kafka broker (KRaft mode, no ZooKeeper) and its runtime dependencies from Maven's default
# repository into a cache folder, for the stream tests and bench that run a real local broker
# (tests/kafka_broker.py starts it with `java -cp DIR/* kafka.Kafka`). Optional: `make kafka`.
set -euo pipefail
kafka_dir=${1:?usage: fetch_kafka.sh KAFKA_DIR}
kafka_version=4.1.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>skuplan.local</groupId><artifactId>kafka-broker</artifactId><version>0</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>${kafka_version}</version></dependency>
  </dependencies>
</project>
POM
mkdir -p "$kafka_dir"
mvn -q -B -f "$work/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$(cd "$kafka_dir" && pwd)"
touch "$kafka_dir/.fetched"
echo "kafka ${kafka_version} broker jars in ${kafka_dir}"
