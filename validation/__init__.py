"""Reproductions of the papers' claims, reported by ``neuromod validate``.

Installed as the package ``neuromod.validation``. :mod:`neuromod.validation.registry`
holds the claim registry and runner; every module here whose name ends in
``_claims`` registers one model family's claims with the :func:`registry.claim`
decorator and is discovered automatically (docs/validation.md). Importing this
package imports nothing else.
"""
