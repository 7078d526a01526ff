import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseImageMap, resolveImage } from './image-map.ts';

describe('image map', () => {
  it('parses an image and resolves it by exact name, then by name without tag', () => {
    const images = parseImageMap(
      JSON.stringify({
        'weir:dev': { mounts: { '/src': '/app' }, workingDir: '/app', entrypoint: ['node'] },
        shell: {},
      }),
      'images.json',
    );
    assert.deepEqual(resolveImage(images, 'weir:dev'), {
      mounts: { '/src': '/app' },
      workingDir: '/app',
      entrypoint: ['node'],
      cmd: [],
      env: {},
    });
    assert.equal(resolveImage(images, 'shell:1.0')?.workingDir, '/');
    assert.equal(resolveImage(images, 'weir:other'), undefined);
  });

  it('rejects bad entries with the field named', () => {
    assert.throws(() => parseImageMap('{"x": {"entrypoint": "node"}}', 'm.json'), {
      message: 'm.json: images["x"].entrypoint must be an array of strings',
    });
    assert.throws(
      () => parseImageMap('{"x": {"mounts": {"/a": "rel"}}}', 'm.json'),
      /target "rel" must be absolute/,
    );
    assert.throws(() => parseImageMap('not json', 'm.json'), /m\.json: not valid JSON/);
  });
});
