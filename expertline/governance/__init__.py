"""Information governance for citizen data: retention and its daily purge, subject access and
erasure for one number, and the access log's reader (README, "Information governance").

``policy`` decides (pure: given ``now`` and the retention policy, what passed its period);
``refs`` turns a number into its normal form and its non-reversible reference; ``purge`` and
``subjects`` apply the decisions to the database; ``api`` and ``cli`` are the admin's ways in.
"""
