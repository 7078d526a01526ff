/**
 * The setup scripts' failure and cache paths, run for real in bash against an
 * empty temporary cache, with `mvn` and `openssl` replaced on PATH by Testing*
 * stand-ins so nothing is downloaded. Each case is a fault seen (or possible)
 * on a fresh machine: a step that exits without saying why, or a half-made
 * result that a later run trusts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

const harness = import.meta.dirname;
const kafkaVersion = /^KAFKA_VERSION=(\S+)$/m.exec(readFileSync(join(harness, 'versions.env'), 'utf8'))?.[1];

let scratch = '';
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'weir-build-scripts-'));
  mkdirSync(join(scratch, 'bin'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

/** Puts an executable shell script on the test's PATH under `name`. */
function testingCommand(name: string, body: string): void {
  const path = join(scratch, 'bin', name);
  writeFileSync(path, `#!/usr/bin/env bash\n${body}\n`);
  chmodSync(path, 0o755);
}

function runScript(script: string, ...args: string[]) {
  const result = spawnSync('bash', [join(harness, script), ...args], {
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${join(scratch, 'bin')}:${process.env.PATH}`,
      WEIR_CACHE: join(scratch, 'cache'),
      WEIR_STATE: join(scratch, 'state'),
    },
  });
  return { status: result.status, stderr: result.stderr };
}

/** A Maven stand-in that writes the classpath file it is asked for, as Maven does: no trailing newline. */
function testingMvnWriting(classpath: string): void {
  testingCommand(
    'mvn',
    `for a in "$@"; do case "$a" in -Dmdep.outputFile=*) printf '%s' '${classpath}' >"\${a#*=}";; esac; done`,
  );
}

/** A jar (a zip) holding the one class build-kafka.sh checks for. */
function brokerJar(): string {
  const jar = join(scratch, `kafka_2.13-${kafkaVersion}.jar`);
  const made = spawnSync('python3', [
    '-c',
    'import sys, zipfile; zipfile.ZipFile(sys.argv[1], "w").writestr("kafka/tools/StorageTool.class", b"")',
    jar,
  ]);
  assert.equal(made.status, 0, String(made.stderr));
  return jar;
}

describe('build-kafka.sh', () => {
  const classpathFile = () => join(scratch, 'cache', 'kafka', String(kafkaVersion), 'classpath.txt');

  it('resolves a classpath that has no trailing newline, then finds it cached', () => {
    const other = join(scratch, 'log4j-core.jar');
    writeFileSync(other, '');
    testingMvnWriting(`${brokerJar()}:${other}`);
    const cold = runScript('build-kafka.sh');
    assert.equal(cold.status, 0, cold.stderr);
    assert.match(cold.stderr, /2 jars/);
    assert.ok(existsSync(classpathFile()));

    testingCommand('mvn', 'echo "a warm run must not call Maven" >&2; exit 1');
    const warm = runScript('build-kafka.sh');
    assert.equal(warm.status, 0, warm.stderr);
    assert.match(warm.stderr, /cached in/);
  });

  it('re-resolves a cached classpath whose jars are gone from the Maven repository', () => {
    const jar = brokerJar();
    testingMvnWriting(jar);
    assert.equal(runScript('build-kafka.sh').status, 0);
    rmSync(jar);
    testingCommand('mvn', 'echo "resolution failed: no network" >&2; exit 1');
    const rerun = runScript('build-kafka.sh');
    assert.notEqual(rerun.status, 0);
    assert.match(rerun.stderr, /resolving broker jars/, 'the stale classpath was not trusted');
  });

  it('names the failed command and its log when Maven fails, and leaves no classpath behind', () => {
    testingCommand('mvn', 'echo "Could not resolve org.apache.kafka:kafka_2.13" >&2; exit 1');
    const run = runScript('build-kafka.sh');
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /error: command failed: mvn .*\(full log: .*mvn\.log\)/);
    assert.match(run.stderr, /Could not resolve org\.apache\.kafka/, 'the log tail is shown');
    assert.equal(existsSync(classpathFile()), false);
  });

  it('refuses an empty classpath and a classpath without the broker, leaving nothing cached', () => {
    testingMvnWriting('');
    const empty = runScript('build-kafka.sh');
    assert.notEqual(empty.status, 0);
    assert.match(empty.stderr, /Maven wrote an empty classpath/);
    assert.equal(existsSync(classpathFile()), false);

    const other = join(scratch, 'slf4j-api.jar');
    writeFileSync(other, '');
    testingMvnWriting(other);
    const noBroker = runScript('build-kafka.sh');
    assert.notEqual(noBroker.status, 0);
    assert.match(noBroker.stderr, new RegExp(`kafka_2\\.13-${kafkaVersion}\\.jar missing`));
    assert.equal(existsSync(classpathFile()), false);
  });
});

describe('pki.sh', () => {
  it('names the failing openssl step and its log, and leaves no PKI a later run would trust', () => {
    // The real openssl for the CA, then a failure partway through the certificates.
    const realOpenssl = spawnSync('bash', ['-c', 'command -v openssl'], { encoding: 'utf8' }).stdout.trim();
    testingCommand(
      'openssl',
      `if [[ "$*" == *front-proxy-client* ]]; then echo "unable to write key" >&2; exit 1; fi; exec ${realOpenssl} "$@"`,
    );
    const dir = join(scratch, 'pki');
    const failed = runScript('pki.sh', dir, '10.244.255.1');
    assert.notEqual(failed.status, 0);
    assert.match(failed.stderr, /error: openssl genrsa failed \(log: .*openssl\.log\)/);
    assert.equal(existsSync(dir), false, 'nothing under the trusted name');

    rmSync(join(scratch, 'bin', 'openssl'));
    const retried = runScript('pki.sh', dir, '10.244.255.1');
    assert.equal(retried.status, 0, retried.stderr);
    assert.ok(existsSync(join(dir, 'front-proxy-client.crt')) && existsSync(join(dir, 'sa.pub')));
  });
});

describe('lib.sh', () => {
  it('names the script, line and command when a command fails under set -e', () => {
    const script = join(scratch, 'fails.sh');
    writeFileSync(script, `source ${join(harness, 'lib.sh')}\necho start\nfalse\necho unreachable\n`);
    const run = spawnSync('bash', [script], { encoding: 'utf8' });
    assert.equal(run.status, 1);
    assert.equal(run.stdout, 'start\n');
    assert.match(run.stderr, /error: .*fails\.sh:3: 'false' failed with status 1/);
  });
});

describe('kubelet-node.sh', () => {
  it('refuses a node index it cannot address, naming the usage', () => {
    for (const args of [[], ['up'], ['up', '0'], ['up', '10'], ['reboot', '1']]) {
      const run = runScript('kubelet-node.sh', ...args);
      assert.equal(run.status, 1, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, /usage: kubelet-node\.sh up\|freeze\|stop\|down <1-9> \(up: \[pool\]\)/);
    }
  });

  it('refuses a pool name that is not a label value, and a node made in another pool', () => {
    const bad = runScript('kubelet-node.sh', 'up', '3', 'Node Loss');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /pool 'Node Loss' is not a label value/);
    const node = join(scratch, 'state', 'nodes', 'weir-node-3');
    mkdirSync(node, { recursive: true });
    writeFileSync(join(node, 'pool'), '');
    const other = runScript('kubelet-node.sh', 'up', '3', 'node-loss');
    assert.equal(other.status, 1);
    assert.match(other.stderr, /weir-node-3 was made in pool 'none', not 'node-loss' .*harness:down first/);
  });

  it('names the missing kubelet and what builds it before touching the machine', () => {
    const run = runScript('kubelet-node.sh', 'up', '1');
    assert.equal(run.status, 1);
    assert.match(run.stderr, /kubelet missing in .*: run build-kubernetes\.sh/);
    assert.equal(existsSync(join(scratch, 'state', 'nodes')), false, 'no node state was made');
  });
});
