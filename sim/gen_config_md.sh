#!/bin/bash
# Regenerates docs/config.md from the binaries' option tables.
set -euo pipefail
cd "$(dirname "$0")/.."
{
cat <<'HEAD'
# Configuration

Both daemons read one INI file (`-c FILE`), then apply `-s
section.key=value` overrides from the command line in order. `-t` loads
and checks the file and the overrides, prints `config OK` and exits 0;
any problem exits 2 with `file:line: reason`: an unknown section or key,
a value out of range or not of its type, a key given twice, a line over
199 bytes. Integers take a `k`, `m` or `g` suffix (powers of 1024);
booleans are `true/false`, `yes/no`, `on/off` or `1/0`. `;` or `#` starts
a comment line. Secrets are masked as `***` where the effective config is
logged at start-up.

The tables below are what `edge --options` and `central --options` print,
generated from the same option tables the daemons parse with
(`tests/itest/itest_startup.c` fails when they differ); regenerate with
`sim/gen_config_md.sh`. Deployment files: `configs/deploy/` (three
regions, central and its replica), `configs/local/` (`make run`).

## edge

<!-- begin edge options -->
HEAD
build/edge --options
cat <<'MID'
<!-- end edge options -->

## central

<!-- begin central options -->
MID
build/central --options
cat <<'TAIL'
<!-- end central options -->
TAIL
} > docs/config.md
