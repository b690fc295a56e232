import { Flags } from '@oclif/core';
import { RunscCommand } from '../../base';
import type { ConfigSource } from '../../../../core/config/types';

export default class ConfigShow extends RunscCommand {
  static override summary = 'Show the effective configuration and where each value came from.';
  static override description = `Merges the config file, RUNSC_* environment variables and flags (flags > env > file > defaults), loads the configured plugins' manifests to check them and their option blocks, and prints every value with its source: a flag, an environment variable, the config file, or the default.

The config file is the one named by --config or RUNSC_CONFIG, else the first of package.json#runsc, .runscrc, .runscrc.{json,yaml,yml}, runsc.config.{json,yaml,yml,js,cjs} found from the current directory up to the project root. See docs/config.md.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --platform kvm --json',
    'RUNSC_DEBUG=1 <%= config.bin %> <%= command.id %> --config ./ci.runsc.yaml',
  ];

  static override flags = {
    json: Flags.boolean({
      description: 'Print as JSON: {file, defaults, values, sources, plugins, pluginOptions}.',
    }),
    for: Flags.string({
      options: ['do', 'container'],
      default: 'do',
      description:
        "Whose defaults fill the fields nothing sets: `runsc do`'s (network none) or a container's, as create, run and boot use them (network netstack).",
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ConfigShow, this.flagArgv());
    const cfg = flags.for === 'container' ? await this.loadEffective('container') : this.effective;
    const { loadPlugins } = await import('../../../../core/plugins/loader');
    const { describeSource, FIELD_NAMES } = await import('../../../../core/config/index');
    const loaded = await loadPlugins(cfg, { allowUnavailable: true });

    const plugins = [
      ...loaded.plugins.map((p) => ({
        slot: p.slot,
        spec: p.spec,
        status: 'ok' as const,
        name: p.manifest.name,
        version: p.manifest.version,
        origin: p.origin,
        module: p.modulePath,
        options: p.options,
      })),
      ...loaded.unavailable.map((u) => ({
        slot: u.slot,
        spec: u.spec,
        status: 'unavailable' as const,
        reason: u.reason,
      })),
      // network: none loads the loopback-only stack when it is built; otherwise nothing.
      ...(cfg.values.network === 'none' && !loaded.plugins.some((p) => p.slot === 'network')
        ? [
            {
              slot: 'network' as const,
              spec: 'none',
              status: 'none' as const,
              reason: 'no network stack plugin',
            },
          ]
        : []),
    ];
    const order = ['platform', 'network', 'rootfs'];
    plugins.sort((a, b) => order.indexOf(a.slot) - order.indexOf(b.slot));

    if (flags.json) {
      this.log(
        JSON.stringify(
          {
            file: cfg.file ?? null,
            defaults: flags.for,
            fileSource: cfg.fileSource ?? null,
            values: cfg.values,
            sources: cfg.sources,
            plugins,
            pluginOptions: cfg.pluginOptions,
          },
          null,
          2,
        ),
      );
      return;
    }

    const fileLine = cfg.file
      ? `${cfg.file} (${fileHow(cfg.fileSource, describeSource)})`
      : `none (searched from ${cfg.cwd} up to the project root)`;
    this.log(`config file: ${fileLine}`);
    this.log(
      flags.for === 'container'
        ? "defaults:    a container's (runsc create/run/boot)"
        : "defaults:    runsc do's (--for container shows those of create/run/boot)",
    );
    this.log('');
    const rows = FIELD_NAMES.map((f) => [
      f,
      cfg.values[f] === undefined ? '-' : String(cfg.values[f]),
      describeSource(cfg.sources[f]),
    ]);
    this.log(table([['FIELD', 'VALUE', 'SOURCE'], ...rows]));
    this.log('');
    const pluginRows = plugins.map((p) =>
      p.status === 'ok'
        ? [p.slot, `${p.name} ${p.version}`, `${p.origin} ${p.module}`]
        : p.status === 'none'
          ? [p.slot, p.spec, p.reason]
          : [p.slot, p.spec, `unavailable: ${p.reason}`],
    );
    this.log(table([['PLUGIN', 'NAME', 'MODULE'], ...pluginRows]));
    const opts = plugins.filter((p) => p.status === 'ok' && Object.keys(p.options ?? {}).length > 0);
    if (opts.length > 0) {
      this.log('');
      const optRows = opts.flatMap((p) => (p.status === 'ok' ? [[p.name, JSON.stringify(p.options)]] : []));
      this.log(table([['PLUGIN OPTIONS', 'VALUES'], ...optRows]));
    }
  }
}

function fileHow(source: ConfigSource | undefined, describe: (s: ConfigSource) => string): string {
  if (!source || source.kind === 'file') return 'found by search';
  return `from ${describe(source)}`;
}

/** Left-aligned columns separated by two spaces. */
function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '))
    .join('\n');
}
