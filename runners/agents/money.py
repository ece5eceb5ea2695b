"""Token usage into dollars."""

from __future__ import annotations

from storyc.errors import ConfigError
from storyc.plan import Price

from .base import Usage

PER = 1_000_000  # prices are US dollars per million tokens


def cost(usage: Usage, price: Price) -> float:
    """What `usage` costs at `price`, in US dollars."""
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * price.cache_write
    ) / PER


def price_for(model: str, prices: dict[str, Price]) -> Price:
    """The price of `model`; a model without one is an error, never $0."""
    if model in prices:
        return prices[model]
    raise no_price(model, prices)


def no_price(model: str, prices: dict[str, Price] | None = None) -> ConfigError:
    known = f" (prices are known for: {', '.join(sorted(prices))})" if prices else ""
    return ConfigError(
        f"no price for model `{model}`: storyc will not spend money it cannot count{known}",
        hint=(
            f'add its price, US dollars per million tokens, to storyc.toml:\n[models.prices."{model}"]\n'
            "input = 3.0\noutput = 15.0\ncache_read = 0.30\ncache_write = 3.75"
        ),
    )
