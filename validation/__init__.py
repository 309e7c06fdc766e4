"""Reproductions of the papers' claims, reported by ``neuromod validate``.

Installed as the package ``neuromod.validation``.
"""
