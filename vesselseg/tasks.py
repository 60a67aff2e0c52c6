"""What a model learns, and the U-Net outputs (heads) that it needs, as data.

    vessels       the blog's task: one sigmoid output, the vessel probability
    artery_vein   three sigmoid outputs, artery, vein and vessel (artery_vein.py says why)

A run's config.json records its task; configs without one are "vessels".
"""

VESSEL_HEADS = ("vessel",)
AV_HEADS = ("artery", "vein", "vessel")
TASK_HEADS = {"vessels": VESSEL_HEADS, "artery_vein": AV_HEADS}
