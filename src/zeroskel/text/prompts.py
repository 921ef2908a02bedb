"""Prompts of the multi-turn side-information conversation (one conversation per action class).

Spatial turns go from the whole body to its extremities (coarse -> mid -> fine), then temporal turns follow
the motion through time (start -> middle -> end). Each turn sees the earlier ones, so later answers refine
earlier ones instead of repeating them.
"""
from __future__ import annotations

from typing import Sequence

# Bump when the wording changes: cached conversations are keyed by it.
PROMPT_VERSION = "1"

SYSTEM = (
    "You are an expert in human movement analysis. You describe how the body moves while a person performs "
    "an action, as a 3D skeleton tracker sees it: head, neck, spine, shoulders, elbows, wrists, hands, hips, "
    "knees, ankles and feet, with their positions and directions (left/right, up/down, forward/backward, "
    "clockwise/counter-clockwise). Your descriptions are concrete, visual and short (one sentence each), and "
    "they say what tells the action apart from similar actions."
)

_FORMAT = (
    "Write {n} different descriptions, as if the action were performed by {n} different people (they may "
    "differ in speed, amplitude and style, but each must still be this action). Reply with only a JSON list "
    "of {n} strings."
)

TURNS: dict[str, str] = {
    "spatial_coarse": (
        'The action is "{name}". Describe it at the coarsest level of the body: which large parts (arms, '
        "legs, torso, head) move, which stay still, and which side of the body is used. " + _FORMAT
    ),
    "spatial_mid": (
        'Now describe "{name}" one level finer, at the level of body segments: shoulders, upper arms, '
        "forearms, hips, thighs and shins, how they rotate, bend or extend, and in which direction. " + _FORMAT
    ),
    "spatial_fine": (
        'Now describe "{name}" at the finest level: the joints and extremities (elbows, wrists, hands, knees, '
        "ankles, feet), their paths and the shapes they trace. " + _FORMAT
    ),
    "temporal_start": (
        'Now follow "{name}" through time. Describe the start of the action: the initial posture and the '
        "first movement that sets it off. " + _FORMAT
    ),
    "temporal_middle": (
        'Describe the middle of "{name}": the main movement at its peak (its direction, extent and '
        "speed). " + _FORMAT
    ),
    "temporal_end": (
        'Describe the end of "{name}": how the movement finishes and the posture the body comes to rest '
        "in. " + _FORMAT
    ),
}

REASK = (
    "Your answer could not be used ({reason}). Reply again with only a JSON list of exactly {n} non-empty, "
    "different strings, each one sentence describing the same part of the action, and nothing else."
)


def system_prompt(class_names: Sequence[str] | None = None, dataset: str = "") -> str:
    """The system message; with the action set named, so descriptions can be discriminative."""
    text = SYSTEM
    if class_names:
        where = f" (from the {dataset} dataset)" if dataset else ""
        text += (f" The action set{where} is: " + "; ".join(f'"{c}"' for c in class_names) +
                 ". Make every description specific enough to tell its action from the others in this set.")
    return text


def turn_prompt(class_name: str, phase: str, num_descriptions: int) -> str:
    return TURNS[phase].format(name=class_name, n=num_descriptions)


def reask_prompt(reason: str, num_descriptions: int) -> str:
    return REASK.format(reason=reason, n=num_descriptions)
