"""Peer zero-shot heads, run in the same harness as Neuron (same frozen encoder features, same class
text, same evaluation). Importing this package registers them:

- ``global_align``: one projection of the pooled skeleton feature onto the class text embedding
  (DeViSE / ReViSE family), softmax over seen classes (``zeroskel.models.peers.global_align``).
- ``cada_vae``: cross- and distribution-aligned VAEs (Schönfeld et al., CVPR 2019) with a softmax
  classifier on generated latents (``zeroskel.models.peers.cada_vae``).
- ``smie``: mutual-information estimation and maximisation with a temporal constraint (Zhou et al.,
  ACM MM 2023) (``zeroskel.models.peers.smie``).
- ``purls``: description-query attention over joint x time tokens, per-candidate queries at inference
  (Zhu et al., CVPR 2024) (``zeroskel.models.peers.purls``).
- ``star``: part-wise prompt cross-attention against label and part-description projections (Chen et
  al., ACM MM 2024) (``zeroskel.models.peers.star``).
- ``revise``: visual and text autoencoders with MMD and a hinge (Tsai et al., ICCV 2017)
  (``zeroskel.models.peers.revise``).
- ``jpose``: verb, noun and joint embedding spaces (Wray et al., ICCV 2019) (``zeroskel.models.peers.jpose``).
"""
from __future__ import annotations

from .cada_vae import CadaVaeHead, cada_vae
from .global_align import GlobalAlignHead, class_embeddings, global_align, pooled_feature
from .jpose import JposeHead, jpose
from .purls import PurlsHead, purls
from .revise import ReviseHead, revise
from .smie import SmieHead, smie
from .star import StarHead, star

__all__ = ["GlobalAlignHead", "global_align", "CadaVaeHead", "cada_vae", "SmieHead", "smie",
           "class_embeddings", "pooled_feature", "PurlsHead", "purls", "StarHead", "star", "ReviseHead", "revise",
           "JposeHead", "jpose"]
