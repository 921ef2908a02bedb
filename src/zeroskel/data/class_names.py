"""Class names of the supported datasets, in label order (label 0 first).

Facts from the datasets' publications (see the README's data section). Side information shipped in
``zeroskel/text/side_info/*.json`` uses exactly these strings.
"""
from __future__ import annotations

UTD_MHAD: tuple[str, ...] = (
    "right arm swipe to the left", "right arm swipe to the right", "right hand wave",
    "two hand front clap", "right arm throw", "cross arms in the chest", "basketball shoot",
    "right hand draw x", "right hand draw circle (clockwise)",
    "right hand draw circle (counter clockwise)", "draw triangle", "bowling (right hand)",
    "front boxing", "baseball swing from right", "tennis right hand forehand swing",
    "arm curl (two arms)", "tennis serve", "two hand push", "right hand knock on door",
    "right hand catch an object", "right hand pick up and throw", "jogging in place",
    "walking in place", "sit to stand", "stand to sit", "forward lunge (left foot forward)",
    "squat (two arms stretch out)",
)

MSR_ACTION3D: tuple[str, ...] = (
    "high arm wave", "horizontal arm wave", "hammer", "hand catch", "forward punch", "high throw",
    "draw x", "draw tick", "draw circle", "hand clap", "two hand wave", "side boxing", "bend",
    "forward kick", "side kick", "jogging", "tennis swing", "tennis serve", "golf swing",
    "pickup and throw",
)

UTKINECT: tuple[str, ...] = (
    "walk", "sitDown", "standUp", "pickUp", "carry", "throw", "push", "pull", "waveHands",
    "clapHands",
)

NW_UCLA: tuple[str, ...] = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
    "stand up", "donning", "doffing", "throw", "carry",
)

NTU120: tuple[str, ...] = (
    "drink water", "eat meal", "brush teeth", "brush hair", "drop", "pick up", "throw", "sit down",
    "stand up", "clapping", "reading", "writing", "tear up paper", "put on jacket",
    "take off jacket", "put on a shoe", "take off a shoe", "put on glasses", "take off glasses",
    "put on a hat/cap", "take off a hat/cap", "cheer up", "hand waving", "kicking something",
    "reach into pocket", "hopping", "jump up", "phone call", "play with phone/tablet",
    "type on a keyboard", "point to something", "taking a selfie", "check time (from watch)",
    "rub two hands", "nod head/bow", "shake head", "wipe face", "salute", "put palms together",
    "cross hands in front", "sneeze/cough", "staggering", "falling down", "headache", "chest pain",
    "back pain", "neck pain", "nausea/vomiting", "fan self", "punch/slap", "kicking", "pushing",
    "pat on back", "point finger", "hugging", "giving object", "touch pocket", "shaking hands",
    "walking towards", "walking apart", "put on headphone", "take off headphone", "shoot at basket",
    "bounce ball", "tennis bat swing", "juggle table tennis ball", "hush", "flick hair", "thumb up",
    "thumb down", "make OK sign", "make victory sign", "staple book", "counting money",
    "cutting nails", "cutting paper", "snap fingers", "open bottle", "sniff/smell", "squat down",
    "toss a coin", "fold paper", "ball up paper", "play magic cube", "apply cream on face",
    "apply cream on hand", "put on bag", "take off bag", "put object into bag",
    "take object out of bag", "open a box", "move heavy objects", "shake fist", "throw up cap/hat",
    "capitulate", "cross arms", "arm circles", "arm swings", "run on the spot", "butt kicks",
    "cross toe touch", "side kick", "yawn", "stretch oneself", "blow nose", "hit with object",
    "wield knife", "knock over", "grab stuff", "shoot with gun", "step on foot", "high-five",
    "cheers and drink", "carry object", "take a photo", "follow", "whisper", "exchange things",
    "support somebody", "rock-paper-scissors",
)

NTU60: tuple[str, ...] = NTU120[:60]

PKU_MMD: tuple[str, ...] = (
    "bow", "brushing hair", "brushing teeth", "check time (from watch)", "cheer up", "clapping",
    "cross hands in front (say stop)", "drink water", "drop", "eat meal/snack", "falling",
    "giving something to other person", "hand waving", "handshaking", "hopping (one foot jumping)",
    "hugging other person", "jump up", "kicking other person", "kicking something",
    "make a phone call/answer phone", "pat on back of other person", "pickup",
    "playing with phone/tablet", "point finger at the other person",
    "pointing to something with finger", "punching/slapping other person", "pushing other person",
    "put on a hat/cap", "put something inside pocket", "reading", "rub two hands together",
    "salute", "sitting down", "standing up", "take off a hat/cap", "take off glasses",
    "take off jacket", "take out something from pocket", "taking a selfie", "tear up paper",
    "throw", "touch back (backache)", "touch chest (stomachache/heart pain)",
    "touch head (headache)", "touch neck (neckache)", "typing on a keyboard",
    "use a fan (with hand or paper)/feeling warm", "wear jacket", "wear on glasses", "wipe face",
    "writing",
)

BY_DATASET: dict[str, tuple[str, ...]] = {
    "utd-mhad": UTD_MHAD,
    "msr-action3d": MSR_ACTION3D,
    "utkinect": UTKINECT,
    "nw-ucla": NW_UCLA,
    "ntu60": NTU60,
    "ntu120": NTU120,
    "pku-mmd": PKU_MMD,
}
