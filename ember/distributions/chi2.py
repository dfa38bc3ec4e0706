"""The chi-squared distribution."""

from __future__ import annotations

from ember import creation
from ember.distributions import constraints
from ember.distributions.gamma import Gamma
from ember.distributions.utils import broadcast_all


class Chi2(Gamma):
    """The chi-squared distribution of ``df`` degrees of freedom: ``Gamma(df / 2, 1 / 2)``, as
    ``torch.distributions.Chi2``.

    >>> ember.distributions.Chi2(ember.tensor([3.0])).mean   # [3]
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args: bool | None = None):
        (df,) = broadcast_all(df)
        super().__init__(0.5 * df, creation.full_like(df, 0.5),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None) -> Chi2:
        return super().expand(batch_shape, _instance=self._get_checked_instance(Chi2, _instance))

    @property
    def df(self):
        """The degrees of freedom, twice the Gamma's concentration."""
        return self.concentration * 2
