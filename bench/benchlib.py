# SPDX-License-Identifier: MIT
"""What the benches in bench/ share: the corpus, synthetic DTBs, timing
under GNU time (wall, peak RSS, CPU), alternating runs, growth exponents,
machine load, and the text/markdown report."""

import datetime
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

try:
    import libfdt
except ImportError:
    sys.exit(f'{os.path.basename(sys.argv[0])}: python3-libfdt is missing '
             '(apt-get install python3-libfdt)')

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PROG = os.path.basename(sys.argv[0])
PY = '/usr/bin/python3'
GNU_TIME = '/usr/bin/time'
MIB = 1024 * 1024
MIN_FAST_REPEAT = 7          # runs of sub-second commands
SAMPLE_BOARDS = ['demo-a', 'demo-b', 'demo-c', 'demo-d']


def log(msg):
    print(f'bench: {msg}', file=sys.stderr, flush=True)


def die(msg):
    print(f'{PROG}: error: {msg}', file=sys.stderr, flush=True)
    sys.exit(1)


def fetch_corpus():
    script = os.path.join(REPO, 'scripts', 'fetch-corpus')
    res = subprocess.run([script], stdout=subprocess.PIPE, text=True)
    if res.returncode != 0:
        die(f'{script} failed (exit {res.returncode})')
    cache = res.stdout.strip().splitlines()[-1]
    paths = {
        'ref': os.path.join(cache, 'ref', 'make_fit.py'),
        'kernel': os.path.join(cache, 'corpus', 'Image'),
        'list': os.path.join(cache, 'corpus', 'dtbs-list'),
        'package': os.path.join(cache, 'corpus', 'PACKAGE'),
    }
    for key in ('ref', 'kernel', 'list'):
        if not os.path.isfile(paths[key]):
            die(f'{paths[key]} missing after fetch-corpus')
    return paths


def read_list(path):
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f if line.strip()]


def write_list(path, files):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(p + '\n' for p in files))
    return path


def warm(files):
    """Read the inputs once so the first measured run is not the one that
    pays for a cold page cache."""
    for fn in files:
        with open(fn, 'rb') as f:
            while f.read(1 << 20):
                pass


def total_bytes(files):
    return sum(os.path.getsize(f) for f in files)


def nproc():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def env_int(name, default, minimum=0):
    raw = os.environ.get(name, '')
    try:
        value = int(raw) if raw else default
    except ValueError:
        die(f'{name}={raw!r} is not a number')
    return max(minimum, value)


def env_counts(name, default):
    raw = os.environ.get(name, default)
    try:
        return sorted({int(x) for x in raw.split(',') if x.strip()})
    except ValueError:
        die(f'{name}={raw!r} is not a comma list of numbers')


class Cmd:
    """A command to time. `out` is the file it writes, removed before every
    run (untimed) so no run pays for truncating or replacing the previous
    run's output; `stdout` names a file for the command's standard output."""

    def __init__(self, argv, tag, workdir, out=None, stdout=None):
        self.argv = [str(a) for a in argv]
        self.out = out
        self.stdout = stdout
        self.errfile = os.path.join(workdir, f'{tag}.stderr')

    def prepare(self):
        for path in (self.out, self.stdout):
            if path and os.path.exists(path):
                os.unlink(path)


class Series:
    """The runs of one command: median wall and CPU time, largest peak RSS."""

    def __init__(self):
        self.walls, self.cpus, self.rss_kib = [], [], 0

    def add(self, wall, rss_kib, cpu):
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.rss_kib = max(self.rss_kib, rss_kib)

    @property
    def wall(self):
        return statistics.median(self.walls)

    @property
    def cpu(self):
        return statistics.median(self.cpus)

    @property
    def spread(self):
        """'min-max' of the wall times: how noisy the median is."""
        return f'{min(self.walls):.3f}-{max(self.walls):.3f}'

    @property
    def rss_mib(self):
        return self.rss_kib / 1024


class Failed(Exception):
    """A command of the bench failed or ran out of time (see run_once):
    what happened, the start of its stderr, the seconds it ran."""

    def __init__(self, what, stderr, wall):
        super().__init__(what)
        self.what, self.stderr, self.wall = what, stderr, wall


def run_once(cmd, check=True, timeout=None):
    """Run cmd once under GNU time; return (wall s, peak RSS KiB, CPU s).

    Wall time is perf_counter around the run (GNU time's %e has 10 ms steps,
    too coarse for 0.1 s runs; time's own start adds ~1 ms to every command
    alike). RSS and CPU come from GNU time, not from our own wait4: a child
    spawned by this (large) Python process starts as a copy of it, and
    Linux counts that copy's RSS into ru_maxrss at exec. GNU time is small.
    %M is the largest of the command and the descendants it waited for
    (make_fit.py's compressors and mkimage); %U + %S is the CPU of all.

    A failure stops the bench, unless check=False: then it raises Failed
    (exit status or "timed out after N s", and its stderr). With
    `timeout` seconds the command's process group is killed when it runs
    longer."""
    wflags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    tfile = cmd.errfile + '.time'
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, cmd.stdout or os.devnull, wflags, 0o644),
               (os.POSIX_SPAWN_OPEN, 2, cmd.errfile, wflags, 0o644)]
    argv = [GNU_TIME, '-f', '%M %U %S', '-o', tfile] + cmd.argv
    t0 = time.perf_counter()
    pid = os.posix_spawn(GNU_TIME, argv, os.environ, file_actions=actions, setpgroup=0)
    fired = []

    def kill():
        fired.append(True)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    killer = threading.Timer(timeout, kill) if timeout else None
    if killer:
        killer.start()
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - t0
    if killer:
        killer.cancel()
        killer.join()
    timed_out = bool(fired)
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or timed_out:
        with open(cmd.errfile, 'rb') as f:
            err = f.read(1 << 16).decode(errors='replace')
        what = f'timed out after {timeout:.0f} s' if timed_out else f'exit {code}'
        if check:
            die(f'command failed ({what}): {" ".join(cmd.argv)}\n{err[-2000:]}')
        raise Failed(what, err, wall)
    with open(tfile, encoding='ascii') as f:
        rss, user, system = f.read().split('\n')[-2].split()
    return wall, int(rss), float(user) + float(system)


def alternate(cmds, rounds):
    """Run the commands in turn, `rounds` times (a, b, a, b, ...), so that
    a change of machine state during the bench hits all of them alike."""
    series = [Series() for _ in cmds]
    for _ in range(rounds):
        for cmd, s in zip(cmds, series):
            cmd.prepare()
            s.add(*run_once(cmd))
    return series


def node_props(fdt, node):
    """{name: Property} of one node. Walks the properties instead of asking
    for ones that may be absent: pylibfdt 1.6.1 drops a reference to None on
    every failed getprop, which crashes the interpreter after a few hundred."""
    props = {}
    off = fdt.first_property_offset(node, [libfdt.NOTFOUND])
    while off >= 0:
        prop = fdt.get_property_by_offset(off)
        props[prop.name] = prop
        off = fdt.next_property_offset(off, [libfdt.NOTFOUND])
    return props


def subnodes(fdt, path):
    node = fdt.first_subnode(fdt.path_offset(path), [libfdt.NOTFOUND])
    while node >= 0:
        yield node
        node = fdt.next_subnode(node, [libfdt.NOTFOUND])


def set_root_strings(data, compatible, model):
    """DTB bytes with the root compatible (a string list) and model replaced."""
    fdt = libfdt.Fdt(bytearray(data))
    fdt.resize(fdt.totalsize() + 512)
    fdt.setprop(0, 'compatible', b''.join(s.encode() + b'\0' for s in compatible))
    fdt.setprop_str(0, 'model', model)
    fdt.pack()
    return bytes(fdt.as_bytearray())


def root_strings(data):
    """(compatible list, model) of a DTB's root; both must exist."""
    fdt = libfdt.FdtRo(data)
    props = node_props(fdt, 0)
    compat = [s for s in props['compatible'].split(b'\0') if s] if 'compatible' in props else []
    return [s.decode() for s in compat], props['model'].as_str()


def make_synthetic(count, workdir):
    """`count` distinct DTBs made from the sample boards (samples/dts):
    each board compiled once with dtc, then copy i gets its own first
    compatible, "bootpack,synthetic-i", and model. Returns the paths."""
    root = os.path.join(workdir, 'synthetic')
    os.makedirs(root, exist_ok=True)
    bases = []
    for board in SAMPLE_BOARDS:
        dtb = os.path.join(root, f'{board}.dtb')
        subprocess.run(['dtc', '-q', '-I', 'dts', '-O', 'dtb', '-@', '-o', dtb,
                        os.path.join(REPO, 'samples', 'dts', f'{board}.dts')], check=True)
        with open(dtb, 'rb') as f:
            data = f.read()
        bases.append((board, data) + tuple(root_strings(data)))
    paths = []
    for i in range(count):
        board, data, compat, model = bases[i % len(bases)]
        path = os.path.join(root, f'{board}-{i:05d}.dtb')
        with open(path, 'wb') as f:
            f.write(set_root_strings(data, [f'bootpack,synthetic-{i}'] + compat,
                                     f'{model} #{i}'))
        paths.append(path)
    return paths


def growth_exponent(lower, upper, base, value, floor, size=lambda r: r['dtb_bytes']):
    """k in cost ~ size^k between two runs (size: DTB bytes unless told),
    for the cost above the baseline run. Taken between the two largest
    counts: a quadratic term that is small at 500 DTBs dominates there, and
    a fit over all counts would average it away. `floor` keeps a difference
    that is mostly noise from inflating k."""
    dy_lower = max(value(lower) - value(base), floor)
    dy_upper = max(value(upper) - value(base), floor)
    return math.log(dy_upper / dy_lower) / math.log(size(upper) / size(lower))


def verdict(ok):
    return 'PASS' if ok else 'FAIL'


def text_table(head, body, left):
    widths = [max(len(x) for x in col) for col in zip(head, *body)]

    def line(cells):
        return '  '.join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(head), '  '.join('-' * w for w in widths)]
    out += [line(r) for r in body]
    return '\n'.join(out)


def md_table(head, body, left):
    out = ['| ' + ' | '.join(head) + ' |',
           '|' + '|'.join('---' if i in left else '---:' for i in range(len(head))) + '|']
    out += ['| ' + ' | '.join(r) + ' |' for r in body]
    return '\n'.join(out)


def version_of(cmd):
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=10)
        return res.stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return '?'


def cpu_model():
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return '?'


def busy_cpu_s():
    """Non-idle CPU seconds of the whole machine since boot."""
    with open('/proc/stat', encoding='ascii') as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields) - idle) / os.sysconf('SC_CLK_TCK')


def own_cpu_s():
    """CPU seconds used by this process and its waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def busy_line(busy0, ours0, elapsed, cores):
    # CPU time the whole machine spent minus what this bench and its
    # children spent: work by other processes that competed with the runs.
    other = max(0.0, (busy_cpu_s() - busy0) - (own_cpu_s() - ours0))
    share = other / elapsed
    return (f'other processes used {other:.1f} CPU-s during the bench '
            f'({share * 100:.0f}% of one CPU on average)'
            + (' -- the machine was busy, timings are noisy' if share > 0.1 * cores else ''))


def report(title, md_name, env_lines, sections, checks, note_lines):
    """Print everything and write it as markdown to bench/results/MD_NAME."""
    print()
    print('\n'.join(env_lines))
    for title, (head, body, left) in sections:
        print(f'\n{title}\n')
        print(text_table(head, body, left))
    print('\ntargets\n')
    print('\n'.join(checks))
    print()
    print('\n'.join(note_lines))

    res_dir = os.path.join(HERE, 'results')
    os.makedirs(res_dir, exist_ok=True)
    md = os.path.join(res_dir, md_name)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    with open(md + '.tmp', 'w', encoding='utf-8') as f:
        f.write(f'# {title} ({stamp})\n\n')
        f.write(''.join(f'- {line}\n' for line in env_lines))
        for title, (head, body, left) in sections:
            f.write(f'\n## {title}\n\n' + md_table(head, body, left) + '\n')
        f.write('\n## targets\n\n' + ''.join(f'- {c}\n' for c in checks))
        f.write('\n## notes\n\n' + ''.join(f'- {n}\n' for n in note_lines))
    os.replace(md + '.tmp', md)
    print(f'\nwrote {os.path.relpath(md)}')
