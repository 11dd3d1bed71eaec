"""The permutation-equivariant allocation network of paper 004 (Sec. 5, App. A.1).

Every entity (asset, client) is passed through the *same* encoder (parameter sharing), a shared dense layer turns
each embedding into one score, and a softmax across the entities of the task gives the allocation::

    rows   x : (..., m, F)                 one row of features per entity
    h_i    = encoder(x_i)                  (..., m, D)   shared weights across i   (App. A.1: RNN, 25 tanh units)
    s_i    = dense(h_i)                    (..., m)      shared weights across i, zero-initialised
    a      = softmax_i(s)                  (..., m)      on the simplex; a(σx) = σ a(x)       (Definition 1)

With the dense layer initialised to zero every score is 0 and the allocation is exactly uniform (the paper's
"behaves like an Equal CRP policy" initialisation). The value estimate pools the embeddings by their mean, so it is
permutation invariant. The number of entities ``m`` is not a parameter: the same network runs on any task size.

Encoders (``kind``): ``"mlp"`` (all features through two shared tanh layers), ``"rnn"`` (the paper's vanilla tanh
RNN) or ``"gru"`` over a window of ``window`` steps of ``step_features`` features each. The window occupies the first
``window * step_features`` columns of a row; any remaining columns (e.g. the previous weight) are concatenated to
the recurrent encoding, as in App. A.1 ("this output is concatenated with the latest allocation fraction").
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

EncoderKind = Literal["mlp", "rnn", "gru"]
WindowLayout = Literal["step_major", "feature_major"]
_KINDS = ("mlp", "rnn", "gru")
_LAYOUTS = ("step_major", "feature_major")


class EntityEncoder(nn.Module):
    """One shared encoder applied to every entity row: ``(..., m, n_features) -> (..., m, output_dim)``.

    Args:
        n_features: columns per entity row.
        kind: ``"mlp"``, ``"rnn"`` (tanh, as in the paper) or ``"gru"``.
        hidden: hidden units (App. A.1: 25 for portfolios, A.2: 10 for federated learning).
        window: time steps of the recurrent input (recurrent encoders only; ``None`` = every column is one step
            of a scalar sequence, ``step_features=1``).
        step_features: features per time step (portfolio: close, high, low = 3).
        layout: ``"step_major"`` (column ``t * step_features + f``) or ``"feature_major"`` (column ``f * window + t``).

    Raises:
        ValueError: for an unknown ``kind``/``layout`` or a window that does not fit in ``n_features``.
    """

    def __init__(
        self,
        n_features: int,
        kind: EncoderKind = "gru",
        hidden: int = 25,
        window: int | None = None,
        step_features: int = 1,
        layout: WindowLayout = "step_major",
    ) -> None:
        super().__init__()
        if kind not in _KINDS:
            raise ValueError(f"EntityEncoder: kind must be one of {_KINDS}, got {kind!r}")
        if layout not in _LAYOUTS:
            raise ValueError(f"EntityEncoder: layout must be one of {_LAYOUTS}, got {layout!r}")
        for name, value in (("n_features", n_features), ("hidden", hidden), ("step_features", step_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"EntityEncoder: {name} must be a positive integer, got {value!r}")
        if window is None:
            window = n_features // step_features
        if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window * step_features > n_features:
            raise ValueError(f"EntityEncoder: window * step_features must be in [1, n_features={n_features}], "
                             f"got window={window!r}, step_features={step_features}")
        self.n_features = n_features
        self.kind = kind
        self.hidden = hidden
        self.window = window
        self.step_features = step_features
        self.layout = layout
        self.n_static = n_features - window * step_features if kind != "mlp" else 0
        if kind == "mlp":
            self.body: nn.Module = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        else:
            recurrent = nn.RNN if kind == "rnn" else nn.GRU
            self.body = recurrent(step_features, hidden, batch_first=True)  # nn.RNN defaults to tanh (App. A.1)
        self.output_dim = hidden + self.n_static

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Embeddings of shape ``(*rows.shape[:-1], output_dim)``."""
        if rows.shape[-1] != self.n_features:
            raise ValueError(f"EntityEncoder: rows must have {self.n_features} features, got shape {tuple(rows.shape)}")
        if self.kind == "mlp":
            return self.body(rows)
        lead = rows.shape[:-1]
        flat = rows.reshape(-1, self.n_features)
        span = self.window * self.step_features
        sequence = flat[:, :span]
        if self.layout == "step_major":
            sequence = sequence.reshape(-1, self.window, self.step_features)
        else:
            sequence = sequence.reshape(-1, self.step_features, self.window).transpose(1, 2)
        _, last = self.body(sequence)  # last hidden state: (1, batch, hidden)
        embedding = torch.cat([last[0], flat[:, span:]], dim=-1)
        return embedding.reshape(*lead, self.output_dim)


class ScoreHead(nn.Module):
    """The shared dense layer ``D -> 1`` giving one score per entity; zero-initialised (uniform allocation)."""

    def __init__(self, embedding_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(embedding_dim, 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Scores of shape ``embeddings.shape[:-1]``."""
        return self.linear(embeddings).squeeze(-1)


class PooledValueHead(nn.Module):
    """A permutation-invariant critic trunk: the mean of the entity embeddings through a tanh MLP."""

    def __init__(self, embedding_dim: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(embedding_dim, hidden), nn.Tanh())
        self.output_dim = hidden

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Latent of shape ``(*embeddings.shape[:-2], hidden)``; invariant to the order of the entity axis (-2)."""
        return self.net(embeddings.mean(dim=-2))


class PermutationInvariantNet(nn.Module):
    """The paper's deterministic allocation policy: shared encoder, shared zero-initialised score, softmax.

    ``forward(rows)`` returns the allocation (sums to 1 over the entity axis); `scores` the logits.
    Arguments are those of `EntityEncoder`.
    """

    def __init__(
        self,
        n_features: int,
        kind: EncoderKind = "gru",
        hidden: int = 25,
        window: int | None = None,
        step_features: int = 1,
        layout: WindowLayout = "step_major",
    ) -> None:
        super().__init__()
        self.encoder = EntityEncoder(n_features, kind, hidden, window, step_features, layout)
        self.score_head = ScoreHead(self.encoder.output_dim)

    def scores(self, rows: torch.Tensor) -> torch.Tensor:
        """Per-entity scores ``s_i`` (logits of the allocation), shape ``rows.shape[:-1]``."""
        return self.score_head(self.encoder(rows))

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """The allocation ``softmax_i(s)`` across entities (last-but-one axis of ``rows``)."""
        return torch.softmax(self.scores(rows), dim=-1)
