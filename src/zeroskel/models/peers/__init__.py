"""Peer zero-shot heads, run in the same harness as Neuron (same frozen encoder features, same class
text, same evaluation). Importing this package registers them:

- ``global_align``: one projection of the pooled skeleton feature onto the class text embedding
  (DeViSE / ReViSE family), softmax over seen classes (``zeroskel.models.peers.global_align``).
- ``cada_vae``: cross- and distribution-aligned VAEs (Schönfeld et al., CVPR 2019) with a softmax
  classifier on generated latents (``zeroskel.models.peers.cada_vae``).
- ``synse``: skeleton VAE with verb and noun text VAEs and cross-reconstruction (Gupta et al., ICIP
  2021) (``zeroskel.models.peers.synse``); ``cada_vae`` variant ``synse`` is its repository's CADA-VAE.
- ``sa_dvae``: semantic / style split of the skeleton latent with a total-correlation discriminator (Li
  et al., ECCV 2024) (``zeroskel.models.peers.sa_dvae``).
  The three generative heads share a step counter, the cyclical schedule and the classifier on
  generated latents (``zeroskel.models.peers.generative``).
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
from .generative import GenerativeHead
from .global_align import GlobalAlignHead, class_embeddings, global_align, pooled_feature
from .jpose import JposeHead, jpose
from .purls import PurlsHead, purls
from .revise import ReviseHead, revise
from .sa_dvae import SaDvaeHead, sa_dvae
from .smie import SmieHead, smie
from .star import StarHead, star
from .synse import SynseHead, synse

__all__ = ["GlobalAlignHead", "global_align", "CadaVaeHead", "cada_vae", "SmieHead", "smie",
           "GenerativeHead", "SynseHead", "synse", "SaDvaeHead", "sa_dvae",
           "class_embeddings", "pooled_feature", "PurlsHead", "purls", "StarHead", "star", "ReviseHead", "revise",
           "JposeHead", "jpose"]
