"""The mock Solana market and the router. Knows nothing about orders or HTTP."""
