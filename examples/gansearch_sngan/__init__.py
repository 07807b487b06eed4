"""A worked gansearch plug-in: SNGAN's ResNet generator and spectrally normalised ResNet discriminator
(Miyato et al. 2018, the CIFAR-10 architecture StudioGAN and compare_gan ship), with one hyperparameter
of its own, `d_blocks`, and a custom dataset loader.

    model: {name: "gansearch_sngan.resnet:sngan", z_dim: 128}
    data:  {name: "gansearch_sngan.data:digits_rgb", image_size: 32}
    space: {d_blocks: {type: int, low: 1, high: 3}, model.g_width: {type: categorical, choices: [64, 128]}}

Put this folder's parent on PYTHONPATH (or `pip install` it); gansearch ships it to Ray's nodes itself.
"""
