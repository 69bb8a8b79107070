"""API tokens (SPEC §6.1): `services` makes, finds and revokes them; `authentication` is the DRF
edge (`Authorization: Bearer tly_...` or `Token tly_...`), narrowed by the token's scope;
`views` is Settings > API tokens."""
