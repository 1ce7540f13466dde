"""The token registry: symbol, mint address and decimals."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Token:
    symbol: str
    mint: str
    decimals: int
    name: str

    def to_base_units(self, amount: Decimal) -> int:
        """Whole base units (lamports for SOL). Callers validate the decimals first."""
        return int(amount.scaleb(self.decimals))

    def from_base_units(self, units: int) -> Decimal:
        return Decimal(units).scaleb(-self.decimals)


# SOL is native SOL; swaps wrap it to wSOL, whose mint is this address.
WSOL_MINT = "So11111111111111111111111111111111111111112"

TOKENS: dict[str, Token] = {
    token.symbol: token
    for token in (
        Token("SOL", WSOL_MINT, 9, "Solana"),
        Token("USDC", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", 6, "USD Coin"),
        Token("USDT", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", 6, "Tether USD"),
        Token("BONK", "DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", 5, "Bonk"),
        # Listed, not yet trading: their first pool appears when an operator
        # launches them (manage.py launch_token), which is what sniper orders wait for.
        Token("NOVA", "NovaX7h2dG5qz3TLeKBsh8cUQ4W1mRfyJp6ZtA9vbCd", 6, "Nova (launching)"),
        Token("LUMEN", "LumEn4QwF8rV2xPcY7kHsG3dT9bZa6NjLe5MuCo1Rip", 6, "Lumen (launching)"),
    )
}
_BY_MINT = {token.mint: token for token in TOKENS.values()}


def resolve_token(symbol_or_mint: str) -> Token | None:
    """A token by its symbol (any case) or its mint address."""
    return TOKENS.get(symbol_or_mint.upper()) or _BY_MINT.get(symbol_or_mint)
