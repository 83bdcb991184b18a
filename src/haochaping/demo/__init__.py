"""A realistic demo province: catalogue, cases, evaluations and defaults, through the services.

``catalogue`` describes part of 广西壮族自治区 with real region codes; ``planning`` decides at
random who comes when, for what, and how they rate it; ``generator`` registers those cases and
ratings through the services, then lets the sweeper write the defaults (C7).
"""
