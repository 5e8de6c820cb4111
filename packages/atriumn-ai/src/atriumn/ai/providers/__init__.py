"""Provider adapters: sans-IO translation between the neutral chat types and each provider's wire format.

Each module is imported on first use of its provider, so ``import atriumn.ai`` stays light.
"""
