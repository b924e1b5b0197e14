"""The papers' numbers, as data (transcribed from ``shared/papers/SPEC.md``).

Tests check the models against these; notebooks draw them beside the reader's own runs.
Errors and accuracies are percentages. ``source`` strings say which table or figure.
"""
from __future__ import annotations

# He et al. 2016 -- CIFAR-10 nets, option A, 10 classes: exact parameter counts.
CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962,
                1202: 19_421_274}
OPTION_B_EXTRA_PARAMS = 2_752  # two 1x1 conv + BN projections (16->32, 32->64)
CIFAR100_EXTRA_PARAMS = 5_850  # 90 more classifier outputs: 90 * (64 + 1)

# He et al. 2016, Table 6: CIFAR-10 test error (%), ResNets with option A.
TABLE6_ERROR = {"resnet20": 8.75, "resnet32": 7.51, "resnet44": 7.17, "resnet56": 6.97,
                "resnet110": 6.43, "resnet1202": 7.93}
TABLE6_SOURCE = "He et al. 2016, Table 6 (CIFAR-10 test error, %)"

# Plain vs residual CIFAR-10 accuracy (%) from a 2016 reproduction (Gelda et al., Fig. 9, a
# table; the ResNet column is also Fig. 6's "Our results". Their Table I is the architecture).
GELDA_ACCURACY = {
    "plain": {20: 90.61, 32: 88.22, 44: 87.49, 56: 85.81, 110: 9.98},
    "resnet": {20: 91.53, 32: 92.66, 44: 92.20, 56: 92.30, 110: 93.59},
    "resresnet": {20: 90.05, 32: 88.32, 44: 88.82, 56: 86.03, 110: 90.89},
}
GELDA_SOURCE = "Gelda et al. 2016 reproduction (CIFAR-10 accuracy, %)"

# He et al. 2016, Table 1 / SPEC.md: ImageNet nets. MACs measured with flop_counter on
# 1x3x224x224 (paper layout / torchvision layout); paper_flops is Table 1's rounded figure.
IMAGENET = {
    "resnet18": {"params": 11_689_512, "paper_flops": 1.8e9, "macs_paper": 1.814e9,
                 "macs_torchvision": 1.814e9},
    "resnet34": {"params": 21_797_672, "paper_flops": 3.6e9, "macs_paper": 3.664e9,
                 "macs_torchvision": 3.664e9},
    "resnet50": {"params": 25_557_032, "paper_flops": 3.8e9, "macs_paper": 3.858e9,
                 "macs_torchvision": 4.089e9},
    "resnet101": {"params": 44_549_160, "paper_flops": 7.6e9, "macs_paper": 7.570e9,
                  "macs_torchvision": 7.801e9},
    "resnet152": {"params": 60_192_808, "paper_flops": 11.3e9, "macs_paper": 11.282e9,
                  "macs_torchvision": 11.514e9},
}

# He et al. 2016, Table 2: ImageNet top-1 error (%, 10-crop); the ResNets use option A, so
# they have exactly the parameters of their plain counterparts (Sec. 4.1). The 34-layer values
# are Table 3's plain-34 and ResNet-34 A (Table 2's nets); the text gives the rest only as
# differences: ResNet-34 beats ResNet-18 by 2.8 and plain-34 by 3.5 points, and the 18-layer
# plain and residual nets are "comparably accurate".
TABLE2_ERROR = {"plain34": 28.54, "resnet34a": 25.03}
TABLE2_SOURCE = "He et al. 2016, Table 2 (ImageNet val top-1 error, %, 10-crop)"

# He et al. 2016, Table 3: ImageNet validation error (%), 10-crop testing (top-1, top-5).
TABLE3_ERROR = {"plain-34": (28.54, 10.02), "ResNet-34 A": (25.03, 7.76),
                "ResNet-34 B": (24.52, 7.46), "ResNet-34 C": (24.19, 7.40),
                "ResNet-50": (22.85, 6.71), "ResNet-101": (21.75, 6.05),
                "ResNet-152": (21.43, 5.71)}
TABLE3_SOURCE = "He et al. 2016, Table 3 (ImageNet val error, %, 10-crop)"

# He et al. 2016, Sec. 4.2's CIFAR-10 training recipe is written once, in
# reslab.training.recipes.HE2016 (which TrainConfig's defaults read).

# Gelda et al. 2016, Sec. III.B: successive block training of a 32-layer ResNet (accuracy, %).
SUCCESSIVE_ACCURACY = {"bottom-up": 92.15, "top-down": 89.82, "resnet32 (trained at once)": 92.66}

# Targ et al. 2016 (RiR): CIFAR-10 accuracy (%) and parameter counts (Table 7, rounded).
RIR_PARAMS = {"cnn32": 0.46e6, "resnet_init32": 0.46e6, "rir_resnet32": 0.49e6, "rir32": 0.49e6,
              "cnn18w": 9.5e6, "resnet_init18w": 9.5e6, "resnet18w": 10.3e6, "rir18w": 10.3e6}
RIR_TABLE3 = {"cnn32": 89.03, "rir_resnet32": 92.32, "resnet_init32": 89.62, "rir32": 92.97}
RIR_WIDE_CIFAR10 = {"cnn18w": 93.64, "resnet18w": 93.95, "resnet_init18w": 94.28,
                    "rir18w": 94.99}
RIR_WIDE_CIFAR100 = {"cnn18w": 75.17, "resnet18w": 76.58, "resnet_init18w": 75.99,
                     "rir18w": 77.10}
RIR_TABLE5 = {(15, 2): 92.87, (3, 10): 90.06, (6, 5): 92.98, (15, 5): 92.11, (9, 3): 93.23}
RIR_TABLE6 = {"resnet": {2: 92.32, 4: 92.48, 6: 92.61, 8: 88.47, 10: 10.00},
              "rir": {2: 92.97, 4: 93.43, 6: 93.42, 8: 92.38, 10: 92.01}}
RIR_SOURCE = "Targ et al. 2016 (CIFAR-10 accuracy, %)"

# Zhang et al. 2017 (RoR): test error (%) CIFAR-10 / CIFAR-100, 500-epoch schedule.
ROR_ERROR = {
    "RoR-3-164": (4.86, 22.47),
    "Pre-ResNet-164": (5.04, 25.54), "Pre-RoR-3-164": (5.02, 25.33),
    "Pre-ResNet-164+SD": (4.67, 22.49), "Pre-RoR-3-164+SD": (4.51, 21.94),
    "WRN40-2": (4.81, 24.70), "RoR-3-WRN40-2": (5.01, 25.19),
    "WRN40-2+SD": (4.80, 22.87), "RoR-3-WRN40-2+SD": (4.59, 22.48),
    "RoR-3-WRN40-4+SD": (4.09, 20.11), "RoR-3-WRN58-4+SD": (3.77, 19.73),
}
ROR_SOURCE = "Zhang et al. 2017 (RoR), test error %, CIFAR-10 / CIFAR-100"

# Parameter counts derived in SPEC.md (conventions in reslab.models.ror's docstring).
ROR_PARAMS = {"ror3_resnet110": 1_637_690, "ror3_resnet164": 2_512_634,
              "ror3_wrn40_2": 2_256_346, "ror3_wrn40_4": 8_995_290,
              "ror3_wrn58_4": 13_645_530, "preresnet164": 1_703_258,
              "preresnet1001": 10_327_706, "wrn40_4": 8_949_210, "wrn28_10": 36_479_194}
