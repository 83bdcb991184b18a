"""haochaping: 政务服务“好差评”系统."""

__version__ = "0.1.0"
