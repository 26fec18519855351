"""Networks, GAN losses, the image pool and the CycleGAN family of models.

Submodules are imported explicitly (``from models.networks import ResnetGenerator``) so that
importing one part never drags in the others.
"""
