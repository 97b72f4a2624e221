"""The deformed-example stream's identity: its parameters and the key that names it in cache keys.

Fractions above 1 train past the 60k base images on deformed copies of them (InfiMNIST,
Loosli, Canu & Bottou 2007; elastic fields after Simard, Steinkraus & Platt 2003). Stream
position p is copy ``p // n`` of image ``permutation[p % n]`` (``Dataset.stream_ids``): the
base images, then copy 1 of every one of them, then copy 2, … Copy 0 is the image as loaded,
so a run on a fraction ≤ 1 reads no copies and its spec and key are what they always were.
A run with a base fraction (``RunSpec.base_fraction``, the worth-of-a-copy design) reads the same kind of
stream over its U base images only: position p is copy ``p // U`` of image ``permutation[p % U]``, and its
spec names the stream too.

Torch-free, so that specs and budgets can name a stream without importing torch; the warp is
``deform.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: Bumped whenever deform.py changes which image a (parameters, copy, image) gives; part of every key.
DEFORM_VERSION = "elastic1"
#: The largest fraction a budget may ask for: 1,024 × 60k examples, far past InfiMNIST's 8.1 M (≈ 135×).
MAX_FRACTION = 1024.0


@dataclass(frozen=True)
class DeformParams:
    """How copy k ≥ 1 of an image is deformed: InfiMNIST's recipe, sized for 28×28 Fashion-MNIST.

    An elastic field (Simard et al. 2003: uniform(−1, 1) per pixel and component, smoothed by a
    Gaussian of ``sigma`` px, times ``alpha`` px) composed with a small affine map drawn per image:
    rotation within ±``degrees``, scale within 1 ± ``scale``, x-shear within ±``shear`` degrees,
    translation within ±``translate`` px. Simard's MNIST values α = 34, σ = 4 (1.4 px rms) bend
    garments into waves; σ = 6 moves a pixel by 0.9 px rms in smooth folds, and the affine part stays
    within how framing varies between photographs (``benchmarks/deform_cost.py --examples out.png``).
    ``seed`` picks the stream: the copies are one fixed data set, not a function of a run's seed.
    """

    alpha: float = 34.0
    sigma: float = 6.0
    degrees: float = 6.0
    scale: float = 0.06
    shear: float = 6.0
    translate: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.sigma <= 0 or min(self.alpha, self.degrees, self.scale, self.shear, self.translate) < 0:
            raise ValueError(f"deformation parameters must be ≥ 0 (sigma > 0), got {self}")
        if self.scale >= 1 or self.degrees > 180 or self.shear >= 90:
            raise ValueError(f"deformation out of range: scale < 1, degrees ≤ 180, shear < 90 (got {self})")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 32:
            raise ValueError(f"stream seed must be an integer in [0, 2^32), got {self.seed!r}")

    def key(self) -> str:
        """Every parameter and the deformation code's version, exactly (floats by repr): what a run's
        spec names as its ``stream``."""
        values = ",".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{DEFORM_VERSION}:{values}"

    @classmethod
    def parse(cls, text: str) -> DeformParams:
        """A key, or ``name=value`` pairs joined by commas over the defaults (``sigma=5,alpha=30``);
        ``""`` or ``default``: the defaults. ValueError names what is wrong and what is allowed."""
        text = text.strip()
        version, sep, rest = text.rpartition(":")
        if sep and version != DEFORM_VERSION:
            raise ValueError(f"stream {text!r} was made by deformation code {version!r}; this is {DEFORM_VERSION!r}")
        values, kinds = {}, {f.name: f.type for f in dataclasses.fields(cls)}
        for item in rest.split(",") if rest not in ("", "default") else ():
            name, eq, value = item.partition("=")
            if not eq or name not in kinds:
                raise ValueError(f"stream parameter {item!r} is not name=value with a name among "
                                 f"{', '.join(kinds)}")
            values[name] = int(value) if kinds[name] in (int, "int") else float(value)
        return cls(**values)


#: The stream a fraction above 1 reads unless a budget names another.
DEFAULT_STREAM = DeformParams().key()


def stream_key(text: str) -> str:
    """``text`` (see ``DeformParams.parse``) as the full, canonical key."""
    return DeformParams.parse(text).key()
