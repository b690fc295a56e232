import * as fs from 'node:fs';
import { Args, Command, Flags } from '@oclif/core';
import { ExitCode } from '../../exit-codes';

export default class ImageBuild extends Command {
  static override summary =
    'Pack a directory, a tar layer or an OCI image layout into containerfs layer images.';
  static override description = `A directory or a tar layer (.tar, .tar.gz or .tar.zst) gives one layer image at -o. An OCI image layout (a folder with oci-layout and index.json) gives one image per layer in the folder -o, with layers.json listing them bottom first. Whiteouts (.wh.NAME) and opaque directories (.wh..wh..opq) are kept as such in the image. The same input always gives the same bytes. Progress (files and bytes) goes to stderr: a bar on a terminal, a summary line otherwise. The format is described in docs/containerfs.md.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> ./rootfs -o rootfs.img',
    '<%= config.bin %> <%= command.id %> layer.tar.gz -o layer.img',
    '<%= config.bin %> <%= command.id %> ./oci-layout -o ./layers',
  ];

  static override args = {
    src: Args.string({ description: 'A directory, a tar layer, or an OCI image layout.', required: true }),
  };

  static override flags = {
    output: Flags.string({
      char: 'o',
      description: 'The image file to write (a folder for an OCI layout).',
      required: true,
      helpValue: 'LAYER.img',
    }),
    quiet: Flags.boolean({ char: 'q', description: 'Print nothing on success.' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(ImageBuild);
    if (!fs.existsSync(args.src))
      this.error(`${args.src}: no such file or directory`, { exit: ExitCode.USAGE });
    const { buildImages, ProgressBar, humanBytes } =
      await import('../../../../plugins/fs-containerfs/src/packer/index');
    let bar: InstanceType<typeof ProgressBar> | null = null;
    try {
      buildImages(args.src, flags.output, {
        start: (label) => {
          bar = flags.quiet ? null : new ProgressBar(process.stderr, label);
        },
        progress: (p) => bar?.update(p),
        done: (img) =>
          bar?.done(
            `${img.path}: ${img.stats.inodes} inodes, ${img.stats.paths} paths, ${humanBytes(img.stats.dataBytes)} of file data, image ${humanBytes(img.stats.imageBytes)}`,
          ),
      });
    } catch (e) {
      this.error(`image build ${args.src}: ${(e as Error).message}`, { exit: ExitCode.RUNTIME });
    }
  }
}
