"""A realistic demo province: catalogue, cases, evaluations and defaults, through the services.

``catalogue`` describes part of 广西壮族自治区 with real region codes; ``generator`` registers
cases and rates them as raters would, then lets the sweeper write the defaults (C7).
"""
