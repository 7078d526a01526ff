#!/usr/bin/env bash
# Resolves a Kafka broker (KRaft) from Maven Central jars: a small pom pulls
# kafka_2.13 plus a Log4j2 binding, and Maven writes the runtime classpath.
source "$(dirname "$0")/lib.sh"

v="$KAFKA_VERSION"
dir="$WEIR_CACHE/kafka/$v"
# Maven writes classpath.txt without a trailing newline, so `read` fills the
# array and still returns 1 at end of file; only an empty result is a failure.
read_classpath() { # file
  jars=()
  IFS=: read -r -a jars <"$1" || ((${#jars[@]}))
}
# Every jar on the recorded classpath must still be in the Maven cache.
classpath_complete() {
  local jar
  [[ -s "$dir/classpath.txt" ]] || return 1
  read_classpath "$dir/classpath.txt" || return 1
  for jar in "${jars[@]}"; do [[ -f "$jar" ]] || return 1; done
}
if classpath_complete; then
  info "kafka $v: cached in $dir"
  exit 0
fi
step "kafka $v: resolving broker jars from Maven Central"
mkdir -p "$dir"
cat >"$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.weir.harness</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$v</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
run_logged "$dir/mvn.log" mvn -B -q -f "$dir/pom.xml" \
  -Dmaven.repo.local="$WEIR_MAVEN_REPO" \
  dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$dir/classpath.txt.partial"
read_classpath "$dir/classpath.txt.partial" || die "Maven wrote an empty classpath (log: $dir/mvn.log)"
broker_jar=""
for jar in "${jars[@]}"; do [[ "$jar" == */kafka_2.13-"$v".jar ]] && broker_jar="$jar"; done
[[ -n "$broker_jar" ]] || die "kafka_2.13-$v.jar missing from the resolved classpath"
listing=$(python3 -m zipfile -l "$broker_jar")
[[ "$listing" == *kafka/tools/StorageTool.class* ]] || die "kafka.tools.StorageTool not found in $broker_jar"
# Only a checked classpath gets the name a later run trusts.
mv "$dir/classpath.txt.partial" "$dir/classpath.txt"
info "${#jars[@]} jars"
done_step
