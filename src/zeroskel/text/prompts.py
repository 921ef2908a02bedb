"""Prompts of the multi-turn side-information conversation (one conversation per action class).

Spatial turns go from the whole body to its end effectors (coarse -> mid -> fine), then temporal turns follow
the motion through time (start -> middle -> end). Each turn sees the earlier ones, so later answers refine
earlier ones instead of repeating them.

What is asked for: N_a short descriptions (about 25 words at most) of what moves: which body part, in which
direction, along what path shape, how far, how fast, what it touches, and what the rest of the body does
when that differs between actions. A sentence that would fit most actions ("the person stands upright", "the
movement ends in a neutral pose") tells no class apart, so it is ruled out at every granularity and phase.

The conversation of a class depends only on that class, the dataset context and the settings: the other
classes of a vocabulary are never named, so adding a class leaves the other conversations (and their
cache entries) valid.
"""
from __future__ import annotations

# Bump when the wording changes: cached conversations are keyed by it.
PROMPT_VERSION = "2"
MAX_WORDS = 25  # about how long one description may be

SYSTEM = (
    "You are an expert in human movement analysis. You describe how the body moves while a person performs "
    "an action, as a 3D skeleton tracker sees it: only the joints (head, neck, spine, shoulders, elbows, "
    "wrists, hands, hips, knees, ankles, feet) and how they move; no objects, clothes or scene. Each "
    f"description is short (at most about {MAX_WORDS} words) and says what moves: which body part, in which "
    "direction (left/right, up/down, forward/backward, clockwise/counter-clockwise), along what path shape, "
    "how far, how fast, what touches what, and what the rest of the body does when that tells actions apart. "
    "Never write a sentence that would fit most actions (such as 'the person stands upright', 'the movement "
    "is smooth' or 'the body returns to a neutral pose'): every description, at every level of detail and "
    "in every phase of the motion, must hold for this action and not for other actions."
)

_FORMAT = (
    "Write {n} different descriptions, each at most about " + str(MAX_WORDS) + " words. They may stress "
    "different details or be performed by different people (speed, amplitude, style), but each must fit only "
    "this action. Reply with only a JSON list of {n} strings."
)

TURNS: dict[str, str] = {
    "spatial_coarse": (
        'The action is "{name}". Describe it at the level of the whole body: which limbs act and which stay '
        "still, which side of the body is used, what the trunk and the legs do. " + _FORMAT
    ),
    "spatial_mid": (
        'Now describe "{name}" at the level of the limb segments: upper arms, forearms, thighs and shanks, how '
        "they rotate, bend or extend, the angles at shoulders, elbows, hips and knees, and in which "
        "direction. " + _FORMAT
    ),
    "spatial_fine": (
        'Now describe "{name}" at the level of the end effectors: hands, wrists, feet and head, the path each '
        "traces (its shape, direction and extent), its speed, and any contact. " + _FORMAT
    ),
    "temporal_start": (
        'Now follow "{name}" through time. Describe what the motion does at its start: which part moves first, '
        "in which direction and how. " + _FORMAT
    ),
    "temporal_middle": (
        'Describe what the motion of "{name}" does in its middle, at its main stroke: direction, path shape, '
        "extent and speed. " + _FORMAT
    ),
    "temporal_end": (
        'Describe what the motion of "{name}" does at its end: how the movement that is specific to it finishes '
        "(which part stops last, where, and how), not a rest posture shared by other actions. " + _FORMAT
    ),
}

REASK = (
    "Your answer could not be used ({reason}). Reply again with only a JSON list of exactly {n} non-empty, "
    "different strings, each at most about " + str(MAX_WORDS) + " words describing the same part of the "
    "action, and nothing else."
)


def system_prompt(dataset: str = "", context: str = "") -> str:
    """The system message of every conversation: the same for all classes of a dataset.

    Args:
        dataset: dataset the action comes from (named in the prompt when given).
        context: free text about the recordings (e.g. ``one person facing a Kinect, arm gestures and sport
            moves``), the same for every class.
    """
    text = SYSTEM
    if dataset:
        text += f" The actions come from the {dataset} dataset."
    if context:
        text += f" About the recordings: {context.strip()}"
    return text


def turn_prompt(class_name: str, phase: str, num_descriptions: int) -> str:
    return TURNS[phase].format(name=class_name, n=num_descriptions)


def reask_prompt(reason: str, num_descriptions: int) -> str:
    return REASK.format(reason=reason, n=num_descriptions)
