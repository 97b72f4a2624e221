"""Train runs, many at once, and report each run's result.

Three ways of sharing work. Chains and branches are exact: a run read off them has the numbers
of the same run trained alone (``train_unshared``), to the bit on CPU. Groups are exact in
distribution.

* **Chains.** With a constant LR and a block-nested data order
  (``Dataset.training_order``), the run on fraction f/2 is the first half of the
  run on f. One chain per (width, seed, dropout, LR) has one *trunk*: trained once to its
  largest fraction and scored where each shorter run ends. Half the training compute of
  separate runs, and one setup instead of one per fraction. Past 1 the trunk runs on into the
  deformed stream (``Dataset.order_edges``), its copies made once per process
  (``Dataset.deformed_copies``). A run on a base fraction (``RunSpec.base_fraction``) is its own chain:
  U base images, then deformed copies of the same U (``Dataset.training_order``), only those made
  (``Dataset.copies_of``).
* **Branches.** A run that leaves its chain's trunk is trained only from where it leaves.
  A ``cooldown`` run of s steps is the trunk up to step b = round(0.8·s), then a *tail* of
  s − b steps on the same batches the trunk would have used, with the LR × (s − i + ½)/(s − b)
  at step i (``lr_factors``). A run of E > 1 epochs is the trunk up to the end of its fraction's
  first epoch, then that chain's *epoch line* on its fraction: epochs 2, 3, … each freshly
  shuffled (``Dataset.epoch_order``), constant LR, so the runs of 1, 2, 4, 8 epochs on one
  fraction are one line scored where each ends (a cooldown of E > 1 epochs branches off the
  epoch line). While a line trains, each member's state is snapshotted at the branch points:
  parameters, Adam's moments and step count, its running loss, and its dropout stream when it
  trains alone. Then the epoch lines train from their snapshots, then the cooldown tails from
  theirs. A cooldown run costs its tail only; an E-epoch run, its epochs 2…E only.
* **Groups.** K trunks of one width train as one grouped model; each member has
  its own seed (initialisation and data order), dropout rate and learning rate.
  Adam is written out because every member needs its own per-layer LR
  (c·multiplier/sqrt(fan_in)); it is elementwise, so members never interact.
  Branches are grouped too, each member with its own start (so its own Adam bias
  correction), length and LR factor; a member past its end gets LR factor 0. On CPU
  branches train one per model instead: no slower on one thread (see
  ``device.default_group_size``), and then a branch equals the run trained alone to the bit,
  which a grouped model (whose kernels depend on K) does not. Dropout masks drawn for several
  members at once cannot be split per member, so a branch off a grouped trunk, or a grouped
  branch, draws fresh masks: exact in distribution.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from pytest_scaling.data import Dataset
from pytest_scaling.device import activation_chunk_bytes, default_group_size, keep_freed_host_memory, synchronize
from pytest_scaling.models import (IMAGE_SIDE, GroupedCNN, count_params, fan_in, forward_flops_per_example,
                                   init_member, layer_shapes)
from pytest_scaling.precision import exact_fp32, forward_precision
from pytest_scaling.runs import Checkpoint, RunResult, RunSpec
from pytest_scaling.stream import DeformParams

#: Bumped whenever a change here or in models.py changes results; part of every cache key.
TRAINING_CODE_VERSION = "6"
CHANCE_LOSS = math.log(10.0)
#: A training loss above this (chance is ln 10 ≈ 2.3) means the run has blown up even if still finite.
DIVERGED_LOSS = 100.0
#: A cooldown run leaves the trunk after this share of its steps (Hägele et al. 2024 decay over the last 20%).
#: A constant, not a TrainSettings field: ``repr(TrainSettings())`` is part of every cache key. It is in no
#: key itself, so changing it must bump TRAINING_CODE_VERSION.
COOLDOWN_START = 0.8


@dataclass(frozen=True)
class TrainSettings:
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    #: Intermediate checkpoints, as fractions of the run's steps: every half-octave down to 1/512
    #: (the end is always one). With chains these land on the same steps for every run of a chain,
    #: so the longest run traces each width's loss along its whole trajectory: the iso-compute
    #: profiles (``estimators.design``) compare every width at the same compute from them.
    checkpoint_fractions: tuple[float, ...] = tuple(2.0 ** (-j / 2) for j in range(1, 19))
    #: Intermediate checkpoints score a fixed slice of the validation split; the final one, all of it.
    intermediate_val_size: int = 2000
    #: How often (in steps) to look for NaN/inf losses; each look is a host sync on accelerators.
    divergence_check_every: int = 25
    #: Target bytes of activations per evaluation chunk; None: the device's default
    #: (``device.activation_chunk_bytes``).
    eval_chunk_bytes: int | None = None


def member_learning_rates(spec: RunSpec, width: int) -> dict[str, float]:
    """Per-layer Adam LR: c · multiplier / sqrt(fan_in) (the exercise's rule of thumb)."""
    return {name: spec.lr_scale * spec.lr_mult / math.sqrt(f) for name, f in fan_in(width).items()}


class _Adam:
    """Adam with one learning-rate tensor per parameter (broadcast over the member axis)."""

    def __init__(self, params: list[torch.Tensor], lrs: list[torch.Tensor], settings: TrainSettings):
        self.params, self.lrs = params, lrs
        self.b1, self.b2 = settings.betas
        self.eps = settings.eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr_factor: list[torch.Tensor] | None = None,
             bias: tuple[list[torch.Tensor], list[torch.Tensor]] | None = None) -> None:
        """One update. ``lr_factor``: per parameter, a [K, 1, …] factor on the LR (schedules; ×1 is
        exact, so a constant stretch matches a run without factors to the bit). ``bias``: per
        parameter, [K, 1, …] tensors of sqrt(1 − β₂ᵗ) and 1/(1 − β₁ᵗ), for members whose step
        counts differ (branches that started at different steps); without it the scalar ``t``."""
        self.t += 1
        torch._foreach_lerp_(self.m, grads, 1 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, grads, grads, value=1 - self.b2)
        denom = torch._foreach_sqrt(self.v)
        torch._foreach_div_(denom, math.sqrt(1 - self.b2 ** self.t) if bias is None else bias[0])
        torch._foreach_add_(denom, self.eps)
        update = torch._foreach_div(self.m, denom)
        torch._foreach_mul_(update, 1 / (1 - self.b1 ** self.t) if bias is None else bias[1])
        torch._foreach_mul_(update, self.lrs if lr_factor is None else torch._foreach_mul(self.lrs, lr_factor))
        torch._foreach_sub_(self.params, update)

    def freeze(self, member: int) -> None:
        """Stop a diverged member: zero LR, and zero its weights so NaNs stop flowing."""
        with torch.no_grad():
            for p, lr in zip(self.params, self.lrs):
                lr[member].zero_()
                p[member].zero_()


@dataclass(frozen=True)
class Scores:
    """Mean validation loss and accuracy per member ([K] tensors) on the first
    ``intermediate_val_size`` images and, for a final evaluation, on all of them."""

    slice_loss: torch.Tensor
    slice_acc: torch.Tensor
    full_loss: torch.Tensor | None = None
    full_acc: torch.Tensor | None = None


def eval_chunk_size(model: GroupedCNN, settings: TrainSettings, device: torch.device) -> int:
    """Images per evaluation chunk, within the device's memory target."""
    # float32 3×3 patches, then conv1's matmul and bias outputs: the largest live activations
    bytes_per_image = 4 * model.k * IMAGE_SIDE ** 2 * (9 + 2 * model.width)
    return max(1, (settings.eval_chunk_bytes or activation_chunk_bytes(device)) // bytes_per_image)


@torch.no_grad()
def evaluate(model: GroupedCNN, data: Dataset, settings: TrainSettings, full: bool,
             precision: str = "fp32") -> Scores:
    """Score every member on the validation slice, and on the whole split if ``full``; the forward
    passes in the precision the members trained in."""
    model.training = False
    k = model.k
    x, y = data.val_x, data.val_y
    n_slice = min(settings.intermediate_val_size, x.shape[0])
    n = x.shape[0] if full else n_slice
    chunk = eval_chunk_size(model, settings, x.device)
    loss_sum = torch.zeros(k, device=x.device)
    correct = torch.zeros(k, device=x.device)
    slice_scores = None
    # Chunks restart at the slice's end, so the slice is scored by the same chunks whether
    # it is scored alone or as the start of the full split.
    for start, stop in [*_chunks(0, n_slice, chunk), *_chunks(n_slice, n, chunk)]:
        if start >= n_slice and slice_scores is None:
            slice_scores = (loss_sum / n_slice, correct / n_slice)
        xb, yb = x[start:stop], y[start:stop]
        with forward_precision(x.device, precision):
            logits = model.forward(xb.unsqueeze(0).expand(k, *xb.shape))
        logits = logits.float()  # a no-op in fp32; in bf16 the loss is taken in fp32
        targets = yb.unsqueeze(0).expand(k, -1)
        loss_sum += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                    reduction="none").view(k, -1).sum(1)
        correct += (logits.argmax(-1) == targets).sum(1)
    model.training = True
    if slice_scores is None:
        slice_scores = (loss_sum / n_slice, correct / n_slice)
    return Scores(*slice_scores, *((loss_sum / n, correct / n) if full else ()))


def _chunks(start: int, stop: int, size: int) -> list[tuple[int, int]]:
    return [(i, min(i + size, stop)) for i in range(start, stop, size)]


def _epoch_steps(data: Dataset, spec: RunSpec) -> int:
    return data.subset_size(spec.fraction, spec.batch_size) // spec.batch_size


def _steps_after(data: Dataset, spec: RunSpec, epochs: float) -> int:
    """Steps after ``epochs`` passes over the run's subset. Within an epoch, whole batches of the
    fraction's share, as the chain's shorter runs end (for one epoch the marks are unchanged)."""
    whole = math.floor(epochs + 1e-9)
    part = epochs - whole
    partial = data.subset_size(spec.fraction * part, spec.batch_size) // spec.batch_size if part > 1e-9 else 0
    return whole * _epoch_steps(data, spec) + partial


def _scoring_steps(spec: RunSpec, data: Dataset, settings: TrainSettings) -> tuple[int, list[int]]:
    """A run's last step (scored on the full split) and its checkpoint steps before it (the slice):
    every half-octave of its own examples, epochs included."""
    end = spec.epochs * _epoch_steps(data, spec)
    marks = {_steps_after(data, spec, spec.epochs * f) for f in settings.checkpoint_fractions
             if spec.epochs * spec.fraction * f * data.n_train >= spec.batch_size}
    return end, sorted(step for step in marks if step < end)


def cooldown_start(steps: int) -> int:
    """The step after which a cooldown run of ``steps`` steps leaves the trunk. Runs under 3 steps
    have no tail (round(0.8·2) = 2): they are the constant run."""
    return round(COOLDOWN_START * steps)


def lr_factors(spec: RunSpec, steps: int) -> list[float]:
    """The LR multiplier at each of a run's steps 1…``steps``. 1 on the trunk; a cooldown's tail
    follows the ramp from 1 at step b to 0 at step s, taken at each step's midpoint,
    (s − i + ½)/(s − b): its mean is exactly ½ and no step is spent at LR 0."""
    branch = cooldown_start(steps) if spec.schedule == "cooldown" else steps
    return [1.0] * branch + [(steps - i + 0.5) / (steps - branch) for i in range(branch + 1, steps + 1)]


@dataclass
class _State:
    """One member's training state after ``step`` steps: all that continuing it needs."""

    step: int
    params: list[torch.Tensor]
    m: list[torch.Tensor]
    v: list[torch.Tensor]
    loss: torch.Tensor  # the running loss, so a blow-up before the branch point still counts
    generator: torch.Tensor | None  # the dropout stream's state, when the member trained alone


@dataclass
class _Line:
    """A stretch of one member's training: steps ``first``+1 … ``last`` over ``order``, from
    initialisation (``start`` None) or from a state of its parent line at step ``first``."""

    key: tuple
    head: RunSpec  # any run on the line: its seed, dropout and LR are the line's
    first: int = 0
    last: int = 0
    parent: tuple | None = None
    factors: list[float] | None = None  # LR factor for steps first+1 … last; None: constant
    scoring: dict[int, bool] = field(default_factory=dict)  # step → scored on the full split too
    snapshots: set[int] = field(default_factory=set)
    order: torch.Tensor | None = None
    start: _State | None = None
    k: int = 1  # members of the model it trained in
    scores: dict[int, Scores] = field(default_factory=dict)  # host floats, this member's
    states: dict[int, _State] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    diverged_at: float = math.inf


def _path(spec: RunSpec, data: Dataset) -> list[tuple[tuple, int]]:
    """The lines a run's training runs along, each with the run's last step on it."""
    chain, epoch_steps = spec.chain_key, _epoch_steps(data, spec)
    end = spec.epochs * epoch_steps
    branch = cooldown_start(end) if spec.schedule == "cooldown" else end
    path = [(("trunk", chain), epoch_steps)] if spec.epochs > 1 else []
    path.append((("epochs", chain, spec.fraction) if spec.epochs > 1 else ("trunk", chain), branch))
    if branch < end:
        path.append((("tail", spec), end))
    return path


def _plan(specs: list[RunSpec], data: Dataset, settings: TrainSettings,
          paths: dict[RunSpec, list[tuple[tuple, int]]]) -> dict[tuple, _Line]:
    """Every line the runs need: how far each goes, where it is scored and where it branches."""
    lines: dict[tuple, _Line] = {}
    for spec in specs:
        end, marks = _scoring_steps(spec, data, settings)
        before = 0
        for i, (key, upto) in enumerate(paths[spec]):
            line = lines.setdefault(key, _Line(key, spec, first=before, parent=paths[spec][i - 1][0] if i else None))
            line.last = max(line.last, upto)
            if key[0] == "tail":
                line.factors = lr_factors(spec, upto)[before:]
            for mark in marks:
                if before < mark <= upto:
                    line.scoring.setdefault(mark, False)
            if i == len(paths[spec]) - 1:
                line.scoring[end] = True
            else:
                line.snapshots.add(upto)
            before = upto
    return lines


def _branch_order(line: _Line, data: Dataset) -> torch.Tensor:
    """Examples of a branch's steps: its run's own order (epochs after one another) from ``first``."""
    spec, batch = line.head, line.head.batch_size
    epochs = spec.epochs if line.key[0] == "tail" else -(-line.last // _epoch_steps(data, spec))
    return data.run_order(spec.fraction, spec.seed, batch, epochs, spec.base_fraction)[line.first * batch:
                                                                                       line.last * batch]


def _fit(order: torch.Tensor, length: int) -> torch.Tensor:
    """``order`` cut or padded to ``length``; padding feeds a member past its end (LR factor 0)."""
    return order[:length] if order.numel() >= length else torch.cat([order, order.new_zeros(length - order.numel())])


def _per_member(table: list[list[float]], params: list[torch.Tensor], device: torch.device) -> list[torch.Tensor]:
    """[steps][K] values → per parameter a [steps, K, 1, …] tensor, indexed by step in the loop."""
    t = torch.tensor(table, dtype=torch.float32, device=device)
    return [t.view(*t.shape, *([1] * (p.dim() - 1))) for p in params]


def _stream(specs: list[RunSpec]) -> DeformParams | None:
    """The deformed stream the runs past the base images read, or None when none of them goes past."""
    keys = {spec.stream for spec in specs if spec.stream}
    if len(keys) > 1:
        raise ValueError(f"train_group needs one deformed stream per group, got {len(keys)}: {sorted(keys)}")
    return DeformParams.parse(keys.pop()) if keys else None


def _train_lines(lines: list[_Line], data: Dataset, settings: TrainSettings,
                 stream: DeformParams | None = None) -> None:
    """Train ``lines`` of one width as one grouped model, recording each one's scores and snapshots.

    Lines that all start from initialisation (trunks) train exactly as chains always have: no LR
    factors, one Adam step count, the dropout stream seeded by the members' seeds. Steps whose
    batches reach past the base images read the stream's deformed copies; every other step indexes.
    """
    device = data.train_x.device
    width, batch = lines[0].head.width, lines[0].head.batch_size
    k = len(lines)
    precision = lines[0].head.precision  # one per group (RunSpec.group_key)
    names = list(layer_shapes(width))  # the order of GroupedCNN.params
    heads = [line.head for line in lines]
    started = time.perf_counter()

    model = GroupedCNN(width, [init_member(width, line.head.seed) if line.start is None
                               else dict(zip(names, line.start.params)) for line in lines],
                       torch.tensor([s.dropout for s in heads]), device)
    params = model.parameters()
    lrs = []
    for name, p in zip(model.params, params):
        per_member = torch.tensor([member_learning_rates(s, width)[name] for s in heads], device=device)
        lrs.append(per_member.view(k, *([1] * (p.dim() - 1))).expand_as(p).contiguous())
    adam = _Adam(params, lrs, settings)
    fresh = all(line.start is None for line in lines)
    if not fresh:
        zeros = [torch.zeros_like(p[0]) for p in params]
        for moments, which in ((adam.m, "m"), (adam.v, "v")):
            for i in range(len(params)):
                moments[i] = torch.stack([zeros[i] if line.start is None else getattr(line.start, which)[i]
                                          for line in lines])

    steps = max(line.last - line.first for line in lines)
    firsts = [line.first for line in lines]
    bias = None
    if len(set(firsts)) == 1:
        adam.t = firsts[0]
    else:  # members at different step counts: Adam's bias correction per member
        b1, b2 = settings.betas
        bias = (_per_member([[math.sqrt(1 - b2 ** (f + i)) for f in firsts] for i in range(1, steps + 1)], params,
                            device),
                _per_member([[1 / (1 - b1 ** (f + i)) for f in firsts] for i in range(1, steps + 1)], params, device))
    factor = None
    if not fresh or any(line.factors is not None for line in lines):
        factor = _per_member([[(line.factors[i - 1] if line.factors else 1.0) if i <= line.last - line.first else 0.0
                               for line in lines] for i in range(1, steps + 1)], params, device)

    orders = torch.stack([_fit(line.order, steps * batch) for line in lines])
    copies, deforms = None, [False] * steps
    if stream is not None and (top := int(orders.max()) // data.n_train):
        # Runs on U base images read copies of those U only: made for the ids they read, not for all n.
        copies = (data.copies_of(stream, orders) if any(line.head.base_fraction > 0 for line in lines)
                  else data.deformed_copies(stream, top))
        deforms = (orders >= data.n_train).view(k, steps, batch).any(2).any(0).tolist()
    generator = torch.Generator(device=device)
    if fresh:
        generator.manual_seed(hash(tuple(s.seed for s in heads)) & 0x7FFFFFFF)
    elif k == 1 and lines[0].start.generator is not None:
        generator.set_state(lines[0].start.generator)  # the trunk's own stream: the branch is the run alone
    else:
        generator.manual_seed(hash(tuple((s.seed, line.first) for s, line in zip(heads, lines))) & 0x7FFFFFFF)

    scoring_at: dict[int, list[tuple[int, bool]]] = {}
    snapshot_at: dict[int, list[int]] = {}
    for j, line in enumerate(lines):
        line.k = k
        for step, full in line.scoring.items():
            scoring_at.setdefault(step - line.first, []).append((j, full))
        for step in line.snapshots:
            snapshot_at.setdefault(step - line.first, []).append(j)
    evaluations: dict[int, Scores] = {}
    recent_loss = (torch.zeros(k, device=device) if fresh else
                   torch.stack([torch.zeros((), device=device) if line.start is None else line.start.loss
                                for line in lines]))
    for i in range(1, steps + 1):
        images, labels = data.train_batch(orders[:, (i - 1) * batch: i * batch], copies if deforms[i - 1] else None)
        with forward_precision(device, precision):
            logits = model.forward(images, generator)
        logits = logits.float()  # a no-op in fp32; in bf16 the loss and its gradient start in fp32
        losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                 reduction="none").view(k, -1).mean(1)
        grads = torch.autograd.grad(losses.sum(), params)
        adam.step(list(grads), None if factor is None else [f[i - 1] for f in factor],
                  None if bias is None else ([c[i - 1] for c in bias[0]], [c[i - 1] for c in bias[1]]))
        recent_loss = torch.where(recent_loss < DIVERGED_LOSS, losses.detach(), recent_loss)  # a blow-up sticks

        scoring, snapping = scoring_at.get(i), snapshot_at.get(i)
        if scoring or snapping or i % settings.divergence_check_every == 0:
            bad = ~(recent_loss < DIVERGED_LOSS).cpu()  # NaN compares False: caught too
            for member in bad.nonzero().flatten().tolist():
                if lines[member].diverged_at == math.inf:
                    lines[member].diverged_at = lines[member].first + i
                    adam.freeze(member)
            if all(line.diverged_at < math.inf for line in lines):
                break
        for j in snapping or ():
            line = lines[j]
            line.seconds[line.first + i] = time.perf_counter() - started
            if line.diverged_at == math.inf:
                line.states[line.first + i] = _State(
                    line.first + i, [p[j].detach().clone() for p in params], [m[j].clone() for m in adam.m],
                    [v[j].clone() for v in adam.v], recent_loss[j].clone(), generator.get_state() if k == 1 else None)
        if scoring:
            evaluations[i] = evaluate(model, data, settings, full=any(full for _, full in scoring),
                                      precision=precision)
            for j, _ in scoring:
                lines[j].seconds[lines[j].first + i] = time.perf_counter() - started

    synchronize(device)
    elapsed = time.perf_counter() - started
    for i, sc in evaluations.items():
        host = [None if t is None else t.cpu().tolist()
                for t in (sc.slice_loss, sc.slice_acc, sc.full_loss, sc.full_acc)]
        for j, _ in scoring_at[i]:
            lines[j].scores[lines[j].first + i] = Scores(*(None if h is None else h[j] for h in host))
    for line in lines:
        line.seconds.setdefault(line.last, elapsed)


def _train_branches(lines: list[_Line], all_lines: dict[tuple, _Line], data: Dataset, settings: TrainSettings,
                    group_size: int, waiting: Counter, stream: DeformParams | None = None) -> None:
    """Train branch lines from their parents' snapshots, longest first, ``group_size`` per model.
    ``waiting`` counts, per (parent, step), the branches of the whole group still to train off that
    snapshot (epoch lines and tails alike): a snapshot is freed when its last child has trained."""
    ready = []
    for line in lines:
        line.start = all_lines[line.parent].states.get(line.first)
        if line.start is None:  # the parent diverged before the branch point: so does the branch
            line.diverged_at = line.first
        else:
            line.order = _branch_order(line, data)
            ready.append(line)
    ready.sort(key=lambda line: line.first - line.last)
    for i in range(0, len(ready), group_size):
        chunk = ready[i:i + group_size]
        _train_lines(chunk, data, settings, stream)
        for line in chunk:  # a snapshot is K × parameters × 3: free it once its last child has trained
            line.start = None
            waiting[line.parent, line.first] -= 1
            if not waiting[line.parent, line.first]:
                all_lines[line.parent].states.pop(line.first, None)
    for line in lines:
        line.start = None


def _results(specs: list[RunSpec], data: Dataset, settings: TrainSettings, lines: dict[tuple, _Line],
             paths: dict[RunSpec, list[tuple[tuple, int]]]) -> list[RunResult]:
    """Each run read off its lines: its checkpoints where its own steps lie, its end on its last line."""
    width = specs[0].width
    flops_per_example = forward_flops_per_example(width)
    results = []
    for spec in specs:
        end, marks = _scoring_steps(spec, data, settings)
        batch, path = spec.batch_size, paths[spec]
        history, before, seconds = [], 0, 0.0
        for key, upto in path:
            line = lines[key]
            for mark in marks:
                if before < mark <= upto and mark < line.diverged_at and mark in line.scores:
                    history.append(Checkpoint(mark * batch, line.scores[mark].slice_loss, line.scores[mark].slice_acc))
            seconds += line.seconds.get(upto, 0.0) / line.k
            before = upto
        last = lines[path[-1][0]]
        is_diverged = any(lines[key].diverged_at <= upto for key, upto in path) or end not in last.scores
        if not is_diverged:
            final = last.scores[end]
            history.append(Checkpoint(end * batch, final.full_loss, final.full_acc))
        loss, acc = (history[-1].val_loss, history[-1].val_acc) if not is_diverged else (math.nan, math.nan)
        slice_loss, slice_acc = ((last.scores[end].slice_loss, last.scores[end].slice_acc)
                                 if not is_diverged else (math.nan, math.nan))
        is_diverged = is_diverged or not math.isfinite(loss)
        collapsed = (not is_diverged) and loss > CHANCE_LOSS - 0.05 and acc < 0.2
        results.append(RunResult(
            spec=spec, params=count_params(width), flops_per_example=flops_per_example, examples=end * batch,
            val_loss=loss, val_acc=acc, diverged=is_diverged, collapsed=collapsed, train_seconds=seconds,
            checkpoints=tuple(history), slice_loss=slice_loss, slice_acc=slice_acc,
        ))
    return results


def train_group(specs: list[RunSpec], data: Dataset, settings: TrainSettings = TrainSettings(),
                branch_group_size: int | None = None) -> list[RunResult]:
    """Train the chains behind ``specs`` together; one RunResult per spec, in order.

    A chain is one (width, seed, dropout, LR): its trunk is trained once, as far as its runs
    need, and each constant one-epoch run is the trunk's state where that run's data end
    (``Dataset.training_order``), scored there on the full validation split, with its
    intermediate checkpoints (on the validation slice) every half-octave of its own steps.
    Cooldown runs and runs of several epochs are branches off it (module docstring).
    ``branch_group_size``: branches per grouped model; None: one on CPU (exact), else as many
    as there are trunks (the runner sized that group for the device).
    """
    if len({s.group_key for s in specs}) != 1:
        raise ValueError("train_group needs specs of one width, batch size, fraction family and precision")
    device = data.train_x.device
    if device.type == "cpu":
        keep_freed_host_memory()
    exact_fp32(device)
    stream = _stream(specs)
    paths = {spec: _path(spec, data) for spec in specs}
    lines = _plan(specs, data, settings, paths)
    trunks = [line for line in lines.values() if line.key[0] == "trunk"]
    longest = max(s.fraction for s in specs)
    for line in trunks:
        # A trunk on copies of U base images reads its own chain's order, only as far as its own runs go: the
        # group's longest fresh run would have it read (and deform) copies no run of it needs.
        head = line.head
        upto = longest if head.base_fraction == 0 else max(s.fraction for s in specs if s.chain_key == head.chain_key)
        line.order = data.training_order(upto, head.seed, head.batch_size, head.base_fraction)
    _train_lines(trunks, data, settings, stream)
    # On CPU one branch per model (exact to the bit); on an accelerator as wide as the runner groups chains.
    size = branch_group_size or (1 if device.type == "cpu" else max(len(trunks),
                                                                    default_group_size(device, specs[0].width)))
    branches = {kind: [line for line in lines.values() if line.key[0] == kind] for kind in ("epochs", "tail")}
    waiting = Counter((line.parent, line.first) for kind in branches for line in branches[kind])
    for kind in ("epochs", "tail"):  # tails may branch off epoch lines, never the other way round
        _train_branches(branches[kind], lines, data, settings, size, waiting, stream)
    return _results(specs, data, settings, lines, paths)


def train_unshared(specs: list[RunSpec], data: Dataset, settings: TrainSettings = TrainSettings()) -> list[RunResult]:
    """Every run trained from its own initialisation through its whole schedule and epochs, the
    runs of one width as members of one grouped model: no chains, no branches, no snapshots.
    The reference that ``train_group``'s sharing is tested against."""
    if len({(s.width, s.batch_size, s.precision) for s in specs}) != 1:
        raise ValueError("train_unshared needs specs of one width, batch size and precision")
    exact_fp32(data.train_x.device)
    lines, paths = {}, {}
    for spec in dict.fromkeys(specs):
        end, marks = _scoring_steps(spec, data, settings)
        key = ("run", spec)
        paths[spec] = [(key, end)]
        lines[key] = _Line(key, spec, last=end, scoring={**dict.fromkeys(marks, False), end: True},
                           factors=lr_factors(spec, end) if spec.schedule != "constant" else None,
                           order=data.run_order(spec.fraction, spec.seed, spec.batch_size, spec.epochs,
                                                spec.base_fraction))
    _train_lines(list(lines.values()), data, settings, _stream(specs))
    return _results(specs, data, settings, lines, paths)
