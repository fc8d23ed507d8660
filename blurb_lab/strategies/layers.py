"""Map an encoder onto the units the strategies act on: embeddings, blocks (bottom to top), pooler.

Kept generic over HF encoders that expose `.embeddings` and `.encoder.layer` (BERT, ELECTRA,
RoBERTa) and strict about coverage, so no parameter silently escapes freezing or layer decay.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from blurb_lab.errors import ModelError


@dataclass
class EncoderLayers:
    """The encoder split into the units that get one learning rate / freeze / reinit decision."""

    embeddings: list[nn.Module]
    blocks: list[nn.Module]  # bottom to top
    pooler: nn.Module | None


def find_layers(encoder: nn.Module) -> EncoderLayers:
    """Split `encoder`; raise ModelError if it has an unknown layout or unmapped parameters."""
    name = type(encoder).__name__
    embeddings = getattr(encoder, "embeddings", None)
    inner = getattr(encoder, "encoder", None)
    blocks = getattr(inner, "layer", None)
    if not isinstance(embeddings, nn.Module) or not isinstance(blocks, nn.ModuleList):
        raise ModelError(
            f"cannot map the layers of {name}: expected .embeddings and an .encoder.layer "
            "ModuleList (BERT, ELECTRA, RoBERTa style)"
        )
    emb: list[nn.Module] = [embeddings]
    project = getattr(encoder, "embeddings_project", None)  # ELECTRA: embedding -> hidden size
    if isinstance(project, nn.Module):
        emb.append(project)
    pooler = getattr(encoder, "pooler", None)
    layers = EncoderLayers(
        embeddings=emb,
        blocks=list(blocks),
        pooler=pooler if isinstance(pooler, nn.Module) else None,
    )
    _check_coverage(encoder, layers)
    return layers


def _check_coverage(encoder: nn.Module, layers: EncoderLayers) -> None:
    """Every parameter must sit in exactly one unit, else a strategy would miss or double it."""
    units = [*layers.embeddings, *layers.blocks]
    if layers.pooler is not None:
        units.append(layers.pooler)
    owner: dict[int, int] = {}
    for index, unit in enumerate(units):
        for param in unit.parameters():
            if owner.setdefault(id(param), index) != index:
                raise ModelError(
                    f"cannot map the layers of {type(encoder).__name__}: a parameter is shared between two layers"
                )
    unmapped = [n for n, p in encoder.named_parameters() if id(p) not in owner]
    if unmapped:
        shown = ", ".join(unmapped[:5]) + (" ..." if len(unmapped) > 5 else "")
        raise ModelError(
            f"cannot map the layers of {type(encoder).__name__}: "
            f"{len(unmapped)} parameter(s) outside embeddings/blocks/pooler: {shown}"
        )
