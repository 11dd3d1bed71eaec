"""Portfolio allocation family (registration only)."""

from mtenvs.core.registry import register_env, register_family

register_family("Portfolio", "mtenvs.portfolio.env:FAMILY")
register_env(
    "Portfolio",
    "Portfolio",
    entry_point="mtenvs.portfolio.env:PortfolioEnv",
    vector_entry_point="mtenvs.portfolio.env:PortfolioVectorEnv",
)
register_env(
    "PortfolioSP500",
    "Portfolio",
    entry_point="mtenvs.portfolio.env:PortfolioEnv",
    vector_entry_point="mtenvs.portfolio.env:PortfolioVectorEnv",
    kwargs={"source": "sp500"},
)
