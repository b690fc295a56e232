import { Args, Command, Flags } from '@oclif/core';
import { ExitCode } from '../../exit-codes';

const TYPE: Record<number, string> = { 1: 'p', 2: 'c', 4: 'd', 6: 'b', 8: '-', 10: 'l', 12: 's' };

/** ls -l style permission string of a mode. */
function modeString(mode: number): string {
  const t = TYPE[(mode >>> 12) & 0xf] ?? '?';
  const r = (b: number, c: string) => (mode & b ? c : '-');
  const x = (b: number, s: number, on: string, off: string) =>
    mode & s ? (mode & b ? on : off) : mode & b ? 'x' : '-';
  return (
    t +
    r(0o400, 'r') +
    r(0o200, 'w') +
    x(0o100, 0o4000, 's', 'S') +
    r(0o40, 'r') +
    r(0o20, 'w') +
    x(0o10, 0o2000, 's', 'S') +
    r(0o4, 'r') +
    r(0o2, 'w') +
    x(0o1, 0o1000, 't', 'T')
  );
}

export default class ImageInspect extends Command {
  static override summary = 'Show a containerfs layer image: its header, statistics and tree.';
  static override description = `Prints the format version, sizes, inode and path counts and the Bloom filter's size, then one line per entry (mode, owner, size, path; symlink targets, devices, whiteouts and opaque directories marked). --verify also checks every file's SHA-256 and every checksummed structure, and exits with status 1 naming the first damaged entry.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> rootfs.img',
    '<%= config.bin %> <%= command.id %> --verify --no-tree rootfs.img',
  ];

  static override args = { image: Args.string({ description: 'The layer image file.', required: true }) };

  static override flags = {
    verify: Flags.boolean({ description: 'Check every checksum and content digest.' }),
    tree: Flags.boolean({ description: 'List the tree.', default: true, allowNo: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImageInspect);
    const { LayerImage } = await import('../../../../plugins/fs-containerfs/src/format/reader');
    const { childHash, ROOT_HASH } = await import('../../../../plugins/fs-containerfs/src/format/bloom');
    let img: InstanceType<typeof LayerImage>;
    try {
      img = LayerImage.open(args.image);
    } catch (e) {
      this.error(`image inspect: ${(e as Error).message}`, { exit: ExitCode.RUNTIME });
    }
    const lines: string[] = [];
    let files = 0,
      dirs = 0,
      bytes = 0,
      whiteouts = 0,
      other = 0;
    const seen = new Set<number>();
    const dec = (s: string) => Buffer.from(s, 'latin1').toString('utf8');
    let current = '/';
    try {
      const walk = (idx: number, p: string, h: ReturnType<typeof childHash>): void => {
        current = p;
        const r = img.inode(idx);
        const type = r.mode & 0o170000;
        const first = !seen.has(idx);
        seen.add(idx);
        let extra = '';
        if (type === 0o100000) {
          if (first) {
            files++;
            bytes += r.size;
          }
          if (flags.verify) img.contents(r);
        } else if (type === 0o040000) dirs++;
        else if (first) other++;
        if (type === 0o120000) extra = ` -> ${dec(img.readlink(r))}`;
        if (type === 0o020000 || type === 0o060000)
          extra = ` [${Math.floor(r.aux / 256) & 0xfff}:${(r.aux & 0xff) | ((r.aux >>> 12) & ~0xff)}]`;
        if (r.opaque) extra += ' (opaque)';
        if (flags.verify) img.xattrs(r);
        if (!first) extra += ` (hard link, inode ${idx})`;
        const size = type === 0o100000 ? r.size : 0;
        lines.push(
          `${modeString(r.mode)} ${String(r.uid).padStart(5)}:${String(r.gid).padEnd(5)} ${String(size).padStart(10)} ${dec(p)}${extra}`,
        );
        if (type !== 0o040000) return;
        for (const e of img.list(r)) {
          const cp = (p === '/' ? '' : p) + '/' + e.name;
          const ch = childHash(h, e.name);
          if (flags.verify && !img.mayContain(ch))
            throw new Error(`${dec(cp)} is missing from the Bloom filter`);
          if (e.whiteout) {
            whiteouts++;
            lines.push(`c---------     -:-              - ${dec(cp)} (whiteout)`);
          } else walk(e.index, cp, ch);
        }
      };
      walk(0, '/', ROOT_HASH);
    } catch (e) {
      this.error(`image inspect ${args.image}: at ${dec(current)}: ${(e as Error).message}`, {
        exit: ExitCode.RUNTIME,
      });
    }
    this.log(`image:      ${args.image}`);
    this.log(`format:     tsvisor layer image, version 1`);
    this.log(`size:       ${img.imageSize} bytes`);
    this.log(`inodes:     ${img.inodeCount} (${dirs} directories, ${files} regular files, ${other} other)`);
    this.log(`paths:      ${img.pathCount} (${whiteouts} whiteouts)`);
    this.log(`file data:  ${bytes} bytes`);
    const bits = img.pathCount ? ((img.bloomPages * 4096 * 8) / img.pathCount).toFixed(1) : '-';
    this.log(
      `bloom:      ${img.bloomPages} page(s), ${bits} bits per path, k=${img.bloomK} (about 0.2% false positives at 16 bits per path)`,
    );
    if (flags.verify) this.log('verify:     every checksum and SHA-256 digest matches');
    if (flags.tree) {
      this.log('');
      for (const l of lines) this.log(l);
    }
  }
}
