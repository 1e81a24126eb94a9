"""Optimizers: how the gradients that backward left become a change of the parameters.

Each follows PyTorch's ``torch.optim`` update formula exactly, so the same hyperparameters give
the same parameter trajectory. ``opt.step(model.parameters)`` (or ``opt.step(model)``) applies
the gradients of the last backward.

A network keeps all its parameters in one contiguous vector θ (each layer's arrays are views into
it) and all gradients in another, g (``core.parameters.Parameters``). An update is therefore a
handful of vectorised operations on the whole vector, not a Python loop over parameter arrays.

``lr`` is a number or a ``barenet.core.schedules`` schedule, read at ``opt.progress`` (epochs done,
a float; ``fit`` keeps it current). ``weight_decay`` is L2 regularisation, adding λθ to the
gradient (decoupled from it in ``AdamW``). ``clip_norm`` rescales g so that ‖g‖₂ ≤ clip_norm
before the update, like ``torch.nn.utils.clip_grad_norm_``.

State that decays geometrically (momentum, Adam's moments, RMSProp's averages) is flushed to zero
once it falls below the smallest normal float (``backend.flush_subnormals`` says why). Each class's
``update`` is its docstring's formula in NumPy; the network's backend runs it (``core.backend``),
and the ``"numba"`` backend runs instead one compiled pass that computes the same formula,
rounding for rounding (``core.backends.fused``), tested against this reference.
"""
from __future__ import annotations

import math

from . import checks as check
from . import registry
from .backend import current, flush_subnormals, xp
from .schedules import Schedule

__all__ = ["Optimizer", "SGD", "RMSProp", "Adam", "AdamW", "get_optimizer"]


_RATE = check.Real(0, closed="right") | check.Instance(Schedule, "a barenet schedule")
_NON_NEGATIVE = check.Real(0)
_FRACTION = check.Real(0, 1)


class Optimizer:
    """Base class: keeps the hyperparameters, the step count and per-parameter state vectors.

    Subclasses list their state vectors in ``state_names`` and implement ``update(theta, g,
    state, c)``, which updates the parameter vector θ in place, given the gradient g, the state
    vectors by name and the step's constants ``c`` (from ``constants``).

    Parameters
    ----------
    lr : float or Schedule
        The learning rate, positive, or a schedule of it (``barenet.core.schedules``).
    weight_decay : float, default 0.0
        λ ≥ 0: L2 regularisation, g ← g + λθ (decoupled in ``AdamW``).
    clip_norm : float or None
        Rescale g so that ‖g‖₂ ≤ clip_norm before the update (None: never).
    """

    state_names: tuple = ()
    constraints = {"lr": _RATE, "weight_decay": _NON_NEGATIVE, "clip_norm": check.Real(0, closed="right") | check.NONE}

    def __init__(self, lr, weight_decay=0.0, clip_norm=None):
        check.arguments(self, lr=lr, weight_decay=weight_decay, clip_norm=clip_norm)
        self.steps = 0
        self.progress = 0.0
        self.state: dict = {}

    @property
    def learning_rate(self) -> float:
        """The learning rate that the next step uses (the schedule's, at ``progress``)."""
        return self.lr(self.progress) if isinstance(self.lr, Schedule) else float(self.lr)

    def step(self, parameters) -> None:
        """Update θ with g, the gradients the last backward left.

        Parameters
        ----------
        parameters : Parameters or Network
            A network's ``Parameters`` (``model.parameters``), or the network itself.

        Raises
        ------
        ValueError
            If the optimizer holds state for a model of another size (one optimizer per model).
        """
        parameters = getattr(parameters, "parameters", parameters)
        theta, grad = parameters.vectors()
        ops = getattr(parameters, "ops", None) or current()
        if not self.state:
            self.state = {name: xp.zeros_like(theta) for name in self.state_names}
        held = next(iter(self.state.values()), theta)
        if held.shape != theta.shape:
            raise ValueError(f"this optimizer holds state for {held.size} parameters but the model has "
                             f"{theta.size}: use one optimizer per model")
        if "scratch" not in self.state:  # work space, not saved
            self.state["scratch"] = xp.empty_like(theta)
        if self.clip_norm is not None:
            norm = math.sqrt(float(ops.squared_norm(grad)))
            if norm > self.clip_norm:
                grad *= self.clip_norm / (norm + 1e-6)
        self.steps += 1
        ops.update(self, theta, grad, self.state, self.constants(self.learning_rate))

    def constants(self, lr: float) -> dict:
        """Return what one step needs beyond the state: ``{"lr": lr}`` here, Adam adds its corrections.

        Parameters
        ----------
        lr : float
            The step's learning rate.
        """
        return {"lr": lr}

    def update(self, theta, g, state, c) -> None:
        """Update θ in place from g: the formula of the class's docstring.

        Parameters
        ----------
        theta, g : array
            The parameter and gradient vectors.
        state : dict
            The state vectors by name (``state_names``), and ``"scratch"``, work space of θ's shape.
        c : dict
            The step's constants, from ``constants``.
        """
        raise NotImplementedError

    def _l2(self) -> float:
        """λ of the L2 term that ``_decayed`` adds to the gradient."""
        return self.weight_decay

    def _decayed(self, theta, g):
        """g + λθ (L2 regularisation), as a new array; g itself when λ = 0."""
        return g + self._l2() * theta if self._l2() else g

    def __getstate__(self):
        """Give copies and pickles the settings and state vectors, not the work space."""
        state = dict(self.__dict__)
        state["state"] = {k: v for k, v in self.state.items() if k != "scratch"}
        return state

    def get_config(self) -> dict:
        """Return the constructor arguments, as JSON-compatible values (a schedule as itself)."""
        return {"lr": self.lr, "weight_decay": self.weight_decay, "clip_norm": self.clip_norm}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    Each step::

        g ← g + λθ                                  (weight decay)
        b ← g on the first step, else μ b + (1 - τ) g   (momentum buffer; τ = dampening)
        g ← g + μ b  if nesterov,  else b
        θ ← θ - lr · g

    Parameters
    ----------
    lr : float or Schedule, default 0.01
        The learning rate.
    momentum : float, default 0.0
        μ ≥ 0 (0: no momentum buffer).
    nesterov : bool, default False
        Nesterov's momentum (needs momentum > 0 and dampening 0).
    dampening : float, default 0.0
        τ in [0, 1].
    weight_decay, clip_norm
        As for ``Optimizer``: λ ≥ 0 (default 0), and the bound on ‖g‖₂ or None.
    """

    aliases = ("sgd",)

    constraints = Optimizer.constraints | {"momentum": _NON_NEGATIVE, "dampening": _FRACTION}

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, dampening=0.0,
                 clip_norm=None):
        super().__init__(lr, weight_decay, clip_norm)
        check.arguments(self, momentum=momentum, dampening=dampening)
        if nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError("nesterov=True needs momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)
        self.state_names = ("momentum_buffer",) if self.momentum else ()

    def update(self, theta, g, state, c):
        """g ← g + λθ; b ← μ b + (1 - τ) g; θ ← θ - lr · (g + μ b if nesterov else b)."""
        g = self._decayed(theta, g)
        if self.momentum:
            buffer = state["momentum_buffer"]
            if self.steps == 1:
                buffer[...] = g
            else:
                buffer *= self.momentum
                buffer += (1.0 - self.dampening) * g
            flush_subnormals(buffer, state["scratch"])
            g = g + self.momentum * buffer if self.nesterov else buffer
        step = xp.multiply(g, c["lr"], out=state["scratch"])
        theta -= step

    def get_config(self):
        """Return the settings: Optimizer's, momentum, nesterov and dampening."""
        return super().get_config() | {"momentum": self.momentum, "nesterov": self.nesterov,
                                       "dampening": self.dampening}


class RMSProp(Optimizer):
    """RMSProp: divide each gradient by a running root-mean-square of its recent values.

    As ``torch.optim.RMSprop``, each step::

        g ← g + λθ
        s ← α s + (1 - α) g²                                  (mean square)
        a ← α a + (1 - α) g,   d = √max(s - a², 0) + ε   if centered,   else d = √s + ε
        b ← μ b + g / d,  θ ← θ - lr · b           if momentum μ > 0
        θ ← θ - lr · g / d                           otherwise

    Parameters
    ----------
    lr : float or Schedule, default 0.01
        The learning rate.
    alpha : float, default 0.99
        α in [0, 1], the averages' decay.
    eps : float, default 1e-8
        ε ≥ 0.
    momentum : float, default 0.0
        μ ≥ 0.
    centered : bool, default False
        Divide by the running standard deviation instead (subtract the mean's square).
    weight_decay, clip_norm
        As for ``Optimizer``: λ ≥ 0 (default 0), and the bound on ‖g‖₂ or None.
    """

    aliases = ("rmsprop",)

    constraints = Optimizer.constraints | {"alpha": _FRACTION, "eps": _NON_NEGATIVE, "momentum": _NON_NEGATIVE}

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, centered=False,
                 weight_decay=0.0, clip_norm=None):
        super().__init__(lr, weight_decay, clip_norm)
        check.arguments(self, alpha=alpha, eps=eps, momentum=momentum)
        self.centered = bool(centered)
        self.state_names = ("square_avg",) + (("grad_avg",) if centered else ()) \
            + (("momentum_buffer",) if self.momentum else ())

    def update(self, theta, g, state, c):
        """s ← α s + (1 - α) g²; θ ← θ - lr · g / (√s + ε) (centered, momentum: see the class)."""
        g = self._decayed(theta, g)
        square_avg, d = state["square_avg"], state["scratch"]
        square_avg *= self.alpha
        square_avg += (1.0 - self.alpha) * g * g
        flush_subnormals(square_avg, d)
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= self.alpha
            grad_avg += (1.0 - self.alpha) * g
            flush_subnormals(grad_avg, d)
            # s - a² ≥ 0 in exact arithmetic; rounding, or s flushed below a² (a is not squared,
            # so it stays normal longer), can leave it a hair below 0: clamp, or √ gives NaN
            xp.sqrt(xp.maximum(square_avg - grad_avg * grad_avg, 0.0, out=d), out=d)
        else:
            xp.sqrt(square_avg, out=d)
        d += self.eps
        xp.divide(g, d, out=d)  # d now holds g / (√s + ε)
        if self.momentum:
            buffer = state["momentum_buffer"]
            buffer *= self.momentum
            buffer += d
            flush_subnormals(buffer, d)  # d (g / (√s + ε)) is spent: reuse it
            d = xp.multiply(buffer, c["lr"], out=d)
        else:
            d *= c["lr"]
        theta -= d

    def get_config(self):
        """Return the settings: Optimizer's, alpha, eps, momentum and centered."""
        return super().get_config() | {"alpha": self.alpha, "eps": self.eps,
                                       "momentum": self.momentum, "centered": self.centered}


class Adam(Optimizer):
    """Adam: momentum on the gradient and RMSProp-style scaling, both bias-corrected.

    As ``torch.optim.Adam``, at step t::

        g ← g + λθ
        m ← β₁ m + (1 - β₁) g            v ← β₂ v + (1 - β₂) g²
        m̂ = m / (1 - β₁ᵗ)                v̂ = v / (1 - β₂ᵗ)
        θ ← θ - lr · m̂ / (√v̂ + ε)

    Parameters
    ----------
    lr : float or Schedule, default 1e-3
        The learning rate.
    betas : (float, float), default (0.9, 0.999)
        β₁ and β₂, each in [0, 1).
    eps : float, default 1e-8
        ε ≥ 0.
    weight_decay, clip_norm
        As for ``Optimizer``: λ ≥ 0 (default 0; L2, which ``AdamW`` decouples), and the bound on ‖g‖₂.
    eps_hat : bool, default False
        ε is the paper's ε̂ (as in Keras and scikit-learn), added to √v before the bias
        correction: θ ← θ - lr · √(1 - β₂ᵗ)/(1 - β₁ᵗ) · m / (√v + ε). The two agree but where √v
        is near ε, early in training or for gradients near 0.
    """

    aliases = ("adam",)

    state_names = ("exp_avg", "exp_avg_sq")  # m and v, as PyTorch names them

    constraints = Optimizer.constraints | {"eps": _NON_NEGATIVE, "eps_hat": check.Boolean()}
    _BETA = check.Real(0, 1, closed="left")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, clip_norm=None, eps_hat=False):
        super().__init__(lr, weight_decay, clip_norm)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        self.betas = tuple(self._BETA(b, f"betas[{i}]") for i, b in enumerate(betas))
        check.arguments(self, eps=eps, eps_hat=eps_hat)

    def constants(self, lr):
        """Return lr and step t's bias corrections: the step lr / (1 - β₁ᵗ), and √(1 - β₂ᵗ)."""
        beta1, beta2 = self.betas
        correction1, root_correction2 = 1.0 - beta1 ** self.steps, math.sqrt(1.0 - beta2 ** self.steps)
        if self.eps_hat:  # lr · √(1-β₂ᵗ)/(1-β₁ᵗ) · m / (√v + ε): the whole correction in the step
            return {"lr": lr, "step": lr * root_correction2 / correction1, "root_bias_correction2": 1.0,
                    "shrink": self._shrink(lr)}
        # lr · m̂/(√v̂ + ε) = (lr / (1-β₁ᵗ)) · m / (√v / √(1-β₂ᵗ) + ε), as PyTorch computes it
        return {"lr": lr, "step": lr / correction1, "root_bias_correction2": root_correction2,
                "shrink": self._shrink(lr)}

    def update(self, theta, g, state, c):
        """m ← β₁ m + (1 - β₁) g; v ← β₂ v + (1 - β₂) g²; θ ← θ - lr m̂ / (√v̂ + ε)."""
        beta1, beta2 = self.betas
        m, v, tmp = state["exp_avg"], state["exp_avg_sq"], state["scratch"]
        if c["shrink"] != 1.0:
            theta *= c["shrink"]  # AdamW's decoupled decay
        g = self._decayed(theta, g)
        m *= beta1                                          # m ← β₁ m + (1 - β₁) g
        m += xp.multiply(g, 1.0 - beta1, out=tmp)
        v *= beta2                                          # v ← β₂ v + (1 - β₂) g²
        tmp = xp.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v += tmp
        flush_subnormals(m, tmp)
        flush_subnormals(v, tmp)
        denominator = xp.sqrt(v, out=tmp)                   # √v̂ + ε = √v / √(1 - β₂ᵗ) + ε
        denominator /= c["root_bias_correction2"]
        denominator += self.eps
        step = xp.divide(m, denominator, out=tmp)           # θ ← θ - lr/(1 - β₁ᵗ) · m / (√v̂ + ε)
        step *= c["step"]
        theta -= step

    def _shrink(self, lr) -> float:
        """Return the factor that decoupled weight decay multiplies θ by before the step (AdamW)."""
        return 1.0

    def get_config(self):
        """Return the settings: Optimizer's, betas, eps and eps_hat."""
        return super().get_config() | {"betas": list(self.betas), "eps": self.eps, "eps_hat": self.eps_hat}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    The parameters shrink by a factor (1 - lr·λ) each step, θ ← θ (1 - lr λ), and the Adam step uses
    the plain gradient. With Adam's adaptive scaling this regularises better than L2.

    Parameters
    ----------
    lr, betas, eps, clip_norm, eps_hat
        As for ``Adam``.
    weight_decay : float, default 0.01
        λ ≥ 0, decoupled.
    """

    aliases = ("adamw",)

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, clip_norm=None, eps_hat=False):
        super().__init__(lr, betas, eps, weight_decay, clip_norm, eps_hat)

    def _l2(self):
        return 0.0  # the decay acts on θ (``_shrink``), not through the gradient

    def _shrink(self, lr):
        return 1.0 - lr * self.weight_decay


def get_optimizer(optimizer) -> Optimizer:
    """Return an Optimizer from an Optimizer or a registered short name (``"adam"``...), with its defaults."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    names = registry.optimizers.aliases()
    if isinstance(optimizer, str) and optimizer.lower() in names:
        return names[optimizer.lower()]()
    raise TypeError(f"optimizer must be a barenet Optimizer or one of {sorted(names)}, got {optimizer!r}")
