"""Names the activation stores give what is not one of a network's own layers."""

# The pixel baseline: each model's own input (resized and normalised), recorded as a layer of a
# pathway of its own, so every table and figure shows what the pixels alone score.
PIXEL_PATHWAY = "pixels"
PIXEL_LAYER = "input"
