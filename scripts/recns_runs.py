"""What the run scripts share: reading a recns metrics file or run summary, an option's value in
a run's command line, and labelling runs."""
import glob
import json
import os
import re
import sys

import h5py


def fail(tool, message):
    """One error line naming the tool, and exit code 2 (bad input)."""
    print(f"{tool}: error: {message}", file=sys.stderr)
    sys.exit(2)


def text(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def load_summary(tool, out, name):
    """The summary JSON OUT/NAME.summary.json of a finished run; a missing or broken one is
    one error line and exit code 2."""
    path = os.path.join(out, f"{name}.summary.json")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        fail(tool, f"{path}: {error}")


def summaries(tool, out, prefix):
    """name -> summary of every finished run in OUT whose name starts with `prefix`."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(out, f"{glob.escape(prefix)}*.summary.json"))):
        name = os.path.basename(path)[: -len(".summary.json")]
        runs[name] = load_summary(tool, out, name)
    return runs


def option_value(run, option):
    """The value `option` has in the run's options (its summary's "options"), or None."""
    match = re.search(rf"(?:^| ){re.escape(option)} (\S+)", run["options"])
    return match.group(1) if match else None


def open_metrics(tool, path, group):
    """The metrics file at `path`, open for reading, after checking that it is one and that it
    holds `group` (the epoch rows, or the per-user metrics with what to do when they are absent)."""
    name, missing = group
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        fail(tool, f"{path}: cannot be read as HDF5 ({error})")
    if text(f.attrs.get("format", "")) != "recns-metrics":
        f.close()
        fail(tool, f"{path}: not a recns metrics file")
    if name not in f:
        f.close()
        fail(tool, f"{path}: {missing}")
    return f


def run_labels(runs):
    """'sampler · model' per run, with the seed where two runs would share a label, and the file
    names where they still would (the same sampler, model and seed with other options)."""
    labels = [f"{r['attrs'].get('sampler_type', '?')} · {r['attrs'].get('model_type', '?')}" for r in runs]
    for n, label in enumerate(list(labels)):
        if labels.count(label) > 1:
            seed = runs[n]["attrs"].get("train_seed")
            labels[n] = f"{label} (seed {seed})" if seed else label
    if len(set(labels)) < len(labels):
        labels = [os.path.basename(r["path"]) for r in runs]
    return labels
