"""``torch.backends.mkldnn`` (oneDNN): ``is_available()`` says whether the ``onednn`` extra's library loads, and
``enabled`` turns its convolutions, max pooling and large float32 products on or off (``onednn.set_enabled``)."""

import sys
import types

from ember.backend import onednn


def is_available() -> bool:
    return onednn.available()


class _Module(types.ModuleType):
    @property
    def enabled(self) -> bool:
        return onednn.switched_on()

    @enabled.setter
    def enabled(self, flag: bool) -> None:
        onednn.set_enabled(bool(flag))


sys.modules[__name__].__class__ = _Module  # ``mkldnn.enabled = False`` reaches oneDNN
