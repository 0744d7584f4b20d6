"""federation.broadcast: one node's Plumtree decisions (docs/protocol.md section 11)."""

from __future__ import annotations

import random

from federation.broadcast import (
    Broadcast,
    GiveUp,
    Gossip,
    Graft,
    Greet,
    KnownHeads,
    Mode,
    Receipt,
    RecentIds,
    Serve,
    heads_of,
    new_neighbours,
)

A, B, C, D = "https://a.example", "https://b.example", "https://c.example", "https://d.example"
O1, O2 = "ed25519:origin-one", "ed25519:origin-two"


def node(*peers: str, **settings: float) -> Broadcast:
    state = Broadcast(**settings)  # type: ignore[arg-type]
    for peer in peers:
        state.add_neighbour(peer)
    return state


def test_new_links_start_eager_and_a_local_entry_goes_to_every_one() -> None:
    state = node(A, B, C)
    assert state.eager() == [A, B, C] and state.lazy() == []
    actions = state.on_local([(O1, 5)])
    assert actions == [Gossip(A, ((O1, 5),)), Gossip(B, ((O1, 5),)), Gossip(C, ((O1, 5),))]


def test_a_known_link_keeps_its_stored_mode() -> None:
    state = Broadcast()
    state.add_neighbour(A, Mode.LAZY)
    state.add_neighbour(A)  # learnt again (a frame from it): still lazy
    assert state.lazy() == [A]
    assert state.on_local([(O1, 1)]) == []


def test_a_new_entry_goes_on_along_the_other_eager_links_only() -> None:
    state = node(A, B, C)
    state.on_prune(C)
    answer, actions = state.on_frame(A, Receipt(accepted=((O1, 5),)), now=0)
    assert answer == {}
    assert actions == [Gossip(B, ((O1, 5),))]  # not back to A, not to lazy C


def test_a_frame_of_duplicates_prunes_its_link_and_goes_nowhere() -> None:
    state = node(A, B)
    state.on_frame(B, Receipt(accepted=((O1, 5),)), now=0)  # the tree brought it first
    answer, actions = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=0)
    assert answer == {"prune": True}
    assert actions == []
    assert state.lazy() == [A] and state.eager() == [B]


def test_a_duplicate_of_our_own_entry_prunes_too() -> None:
    """It went round a cycle of eager links back to its author."""
    state = node(A, B)
    state.on_local([(O1, 5)], ours=True)
    answer, _ = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=0)
    assert answer == {"prune": True} and state.lazy() == [A]


def test_a_duplicate_of_an_entry_that_came_by_a_repair_does_not_prune() -> None:
    """A pull (or a full round, a graft, a version 1 push) brought the entry before the
    tree link did: that link is no redundant path, and pruning it cut the tree (a 50-node
    run: 7 nodes left without an eager link, the eager graph in 11 pieces)."""
    for bring in (
        lambda s: s.on_local([(O1, 5)], source=C),  # a pull or a push from C
        lambda s: s.on_served(C, Receipt(accepted=((O1, 5),)), now=0),  # a graft's answer
    ):
        state = node(A, B, C)
        bring(state)
        answer, actions = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=0)
        assert answer == {} and actions == []
        assert state.eager() == [A, B, C]
        assert state.known.holds(A, O1, 5)


def test_the_last_eager_link_is_never_pruned() -> None:
    state = node(A, B)
    state.on_prune(B)
    state.on_frame(C, Receipt(accepted=((O1, 5),)), now=0)  # C: not a neighbour
    answer, _ = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=0)
    assert answer == {} and state.eager() == [A]


def test_ids_that_came_along_the_tree_are_bounded() -> None:
    recent = RecentIds(limit=2)
    recent.add([(O1, 1), (O1, 2)])
    recent.add([(O1, 1), (O1, 3)])  # (O1, 1) seen again: kept, (O1, 2) out
    assert (O1, 1) in recent and (O1, 3) in recent and (O1, 2) not in recent


def test_duplicates_of_a_frame_sent_again_do_not_prune() -> None:
    """Its sender saw an error (its first answer was lost, say) after we stored it."""
    state = node(A, B)
    answer, actions = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=0, again=True)
    assert answer == {} and actions == []
    assert state.eager() == [A, B]
    assert state.known.holds(A, O1, 5)


def test_a_frame_from_a_peer_that_is_not_a_neighbour_is_stored_and_pruned() -> None:
    state = node(A, B)
    answer, actions = state.on_frame(C, Receipt(accepted=((O1, 5),)), now=0)
    assert answer == {"prune": True}
    assert actions == [Gossip(A, ((O1, 5),)), Gossip(B, ((O1, 5),))]
    assert C not in state.neighbours


def test_something_new_from_a_lazy_link_makes_it_a_tree_link_again() -> None:
    state = node(A, B)
    state.on_prune(A)
    answer, _ = state.on_frame(A, Receipt(accepted=((O1, 6),), duplicate=((O2, 1),)), now=0)
    assert answer == {}
    assert state.eager() == [A, B]


def test_entries_beyond_a_gap_graft_what_lies_before_them() -> None:
    state = node(A)
    receipt = Receipt(pending=((O1, 9), (O1, 10)), heads={O1: 6})
    answer, actions = state.on_frame(A, receipt, now=0)
    assert answer == {"graft": {O1: 6}}
    assert actions == []
    assert state.eager() == [A]


def test_the_sender_reads_the_answer() -> None:
    state = node(A, B)
    assert state.on_answer(A, [(O1, 5)], {"prune": True}) == []
    assert state.lazy() == [A]
    # A holds (O1, 5) now: a later push of it skips A even when A is eager again.
    assert state.on_graft(A, {O2: 0}) == [Serve(A, {O2: 0})]
    assert state.on_local([(O1, 5)]) == [Gossip(B, ((O1, 5),))]
    # A gap on the other side: serve what it lacks, the link is eager.
    assert state.on_answer(B, [(O2, 7)], {"graft": {O2: 3}}) == [Serve(B, {O2: 3})]
    assert state.eager() == [A, B]


def test_a_prune_of_the_last_eager_link_grafts_it_back() -> None:
    state = node(A, B)
    state.on_prune(B)
    assert state.on_answer(A, [(O1, 5), (O2, 2)], {"prune": True}) == [Graft(A, {O1: 5, O2: 2})]
    assert state.eager() == [A]


def test_rejected_entries_are_not_counted_as_held() -> None:
    state = node(A, B)
    answer = {"rejected": [{"index": 0, "origin": O1, "seq": 5, "code": "schema", "reason": "x"}]}
    state.on_answer(A, [(O1, 5)], answer)
    assert not state.known.holds(A, O1, 5)


def test_a_graft_makes_the_link_eager_and_asks_to_serve() -> None:
    state = node(A)
    state.on_prune(A)
    assert state.on_graft(A, {O1: 2, O2: 0}) == [Serve(A, {O1: 2, O2: 0})]
    assert state.eager() == [A]


def test_an_unreachable_peer_is_routed_around() -> None:
    state = node(A, B)
    state.on_unreachable(A)
    assert state.on_local([(O1, 1)]) == [Gossip(B, ((O1, 1),))]


def test_announcements_leave_out_what_the_peer_holds_and_what_it_does_not_follow() -> None:
    state = Broadcast()
    state.add_neighbour(A, interest=lambda origin: origin == O1)
    state.add_neighbour(B)
    state.on_frame(B, Receipt(accepted=((O1, 4),)), now=0)  # B holds O1 up to 4
    changes = {O1: 4, O2: 9}
    assert state.announce_to(A, changes) == {O1: 4}
    assert state.announce_to(B, changes) == {O2: 9}


def test_a_peer_that_follows_a_territory_is_only_pushed_its_origins() -> None:
    state = Broadcast()
    state.add_neighbour(A, interest=lambda origin: origin == O1)
    assert state.on_local([(O1, 3), (O2, 8)]) == [Gossip(A, ((O1, 3),))]
    assert state.on_local([(O2, 9)]) == []


def test_a_missing_entry_is_grafted_then_asked_of_the_next_announcer() -> None:
    state = node(A, B, graft_delay=0.0, graft_retry=10.0, max_graft_tries=3)
    state.on_prune(A)
    state.on_prune(B)
    mine = {O1: 2}
    assert state.on_ihave(A, {O1: 5}, mine, now=100) == [Graft(A, {O1: 2})]
    assert state.eager() == [A]
    assert state.on_ihave(B, {O1: 5}, mine, now=101) == []  # A has it in hand
    assert state.next_due() == 110
    assert state.tick(109, mine) == []
    assert state.tick(110, mine) == [Graft(B, {O1: 2})]
    assert state.next_due() == 130  # doubling
    assert state.tick(130, mine) == [Graft(A, {O1: 2})]
    assert state.tick(170, mine) == [GiveUp(O1, 2, 5)]
    assert state.missing == {}


def test_what_arrives_by_any_path_settles_the_announcement() -> None:
    state = node(A, graft_delay=5.0)
    assert state.on_ihave(A, {O1: 5, O2: 1}, {O1: 2, O2: 1}, now=0) == []
    assert set(state.missing) == {O1}
    state.on_stored([(O1, 3), (O1, 4)], now=1)
    assert set(state.missing) == {O1}  # not all of it yet
    state.on_stored([(O1, 5)], now=2)
    assert state.missing == {} and state.next_due() is None


def test_a_tick_drops_announcements_already_satisfied_in_the_store() -> None:
    state = node(A)
    state.on_ihave(A, {O1: 5}, {}, now=0)
    state.missing[O1].due = 50
    assert state.tick(60, {O1: 5}) == []
    assert state.missing == {}


def test_grafts_to_one_peer_go_together() -> None:
    state = node(A)
    actions = state.on_ihave(A, {O1: 5, O2: 3}, {O2: 1}, now=0)
    assert actions == [Graft(A, {O1: 0, O2: 1})]


def test_an_announcer_that_left_is_not_asked() -> None:
    state = node(A, B, graft_delay=1.0)
    state.on_ihave(A, {O1: 5}, {}, now=0)
    state.remove_neighbour(A)
    assert state.tick(1, {}) == [GiveUp(O1, 0, 5)]


def test_served_entries_go_on_to_the_subtree() -> None:
    state = node(A, B, C)
    state.on_ihave(A, {O1: 5}, {O1: 4}, now=0)
    actions = state.on_served(A, Receipt(accepted=((O1, 5),)), now=1)
    assert actions == [Gossip(B, ((O1, 5),)), Gossip(C, ((O1, 5),))]
    assert state.missing == {}


def test_known_heads_are_bounded_per_peer() -> None:
    known = KnownHeads(per_peer=2)
    known.learn(A, {"o1": 1, "o2": 1})
    known.learn(A, {"o3": 4})
    assert known.size(A) == 2
    assert not known.holds(A, "o1", 1)  # the oldest learnt was forgotten
    assert known.holds(A, "o3", 2)
    known.learn(A, {"o3": 2})  # never goes back
    assert known.holds(A, "o3", 4)
    known.forget(A)
    assert not known.holds(A, "o3", 1)


def test_heads_of_ids() -> None:
    assert heads_of([(O1, 3), (O2, 1), (O1, 7), (O1, 5)]) == {O1: 7, O2: 1}
    assert heads_of([]) == {}


def test_failing_neighbours_are_replaced() -> None:
    rng = random.Random(1)
    assert new_neighbours([A, B], [], [A, B, C, D], degree=2, rng=rng) == []
    assert new_neighbours([A, B], [B], [A, B, C], degree=2, rng=rng) == [C]
    chosen = new_neighbours([A], [A], [A, B, C, D], degree=3, rng=rng)
    assert sorted(chosen) == [B, C, D]
    assert new_neighbours([A], [A], [A], degree=3, rng=rng) == []  # nobody else known


def test_a_link_that_brought_something_new_lately_is_not_pruned() -> None:
    """Entries of two authors spread at once: B's frame brought O2's new entry, then a
    duplicate of O1's (which A brought first). The link is a tree link of O2's spread:
    pruning it cut O2's tree, and with several authors at once the eager graph of a
    50-node network ended in 5 pieces (their nodes waited for the 60 s pulls)."""
    state = node(A, B, prune_guard=10.0)
    state.on_frame(A, Receipt(accepted=((O1, 5),)), now=100.0)
    state.on_frame(B, Receipt(accepted=((O2, 1),)), now=100.0)
    answer, _ = state.on_frame(B, Receipt(duplicate=((O1, 5),)), now=101.0)
    assert answer == {} and state.eager() == [A, B]
    # Once nothing new came by it for prune_guard seconds, a duplicate prunes it.
    answer, _ = state.on_frame(B, Receipt(duplicate=((O1, 5),)), now=110.5)
    assert answer == {"prune": True} and state.lazy() == [B]


def test_a_prune_of_a_link_that_fed_us_lately_is_grafted_back() -> None:
    """The other side only knows what it received: our frame to it was a duplicate, but
    its frames to us are a tree of entries still spreading. The link stays eager, and a
    graft makes it eager on the other side again."""
    state = node(A, B, prune_guard=10.0)
    state.on_frame(B, Receipt(accepted=((O2, 1),)), now=100.0)
    actions = state.on_answer(B, [(O1, 5)], {"prune": True}, now=105.0)
    assert actions == [Graft(B, {O1: 5})] and state.eager() == [A, B]
    # Later, the prune is taken.
    assert state.on_answer(B, [(O1, 6)], {"prune": True}, now=111.0) == []
    assert state.lazy() == [B]
    state.remove_neighbour(B)
    assert B not in state.fed


def test_a_frame_over_a_link_lazy_here_is_answered_prune_whatever_made_it_lazy() -> None:
    """Both sides must agree on a link's mode. Here the answer to our prune was lost and
    its frame came again: answered without ``prune``, its sender kept the link eager and
    waited for entries we never sent it (a node whose every eager link is lazy on the
    other side is cut off the tree until its next pulls: arrivals 30 s late in the 50-node
    benchmark)."""
    receiver, sender = node(A, B, C), node(C, D)
    receiver.on_frame(B, Receipt(accepted=((O1, 5),)), now=0)  # the tree brought it
    answer, _ = receiver.on_frame(C, Receipt(duplicate=((O1, 5),)), now=10)
    assert answer == {"prune": True} and receiver.lazy() == [C]  # lost on its way back
    answer, _ = receiver.on_frame(C, Receipt(duplicate=((O1, 5),)), now=11, again=True)
    assert answer == {"prune": True}
    sender.on_answer(D, [(O1, 5)], answer, now=11)
    assert sender.lazy() == [D] and sender.eager() == [C]
    # A duplicate of an entry a repair brought does not prune, but a lazy link stays lazy
    # and says so; the sender's last eager link is grafted back instead.
    receiver.on_local([(O2, 1)], source=B)
    answer, _ = receiver.on_frame(C, Receipt(duplicate=((O2, 1),)), now=20)
    assert answer == {"prune": True}
    actions = node(A).on_answer(A, [(O2, 1)], answer, now=20)
    assert actions == [Graft(A, {O2: 1})]


def test_chosen_neighbours_are_greeted_once_at_the_next_tick() -> None:
    state = node(A, B, C)
    state.greet.update([A, B, C])
    state.remove_neighbour(C)
    # B is grafted: that tells it as well.
    assert state.on_ihave(B, {O1: 4}, {}, now=0) == [Graft(B, {O1: 0}), Greet(A)]
    assert state.tick(100, {}) == [Graft(B, {O1: 0})]  # the retry; greeted once only


def test_a_node_that_a_repair_fed_lately_keeps_its_links() -> None:
    """A pull (or a graft's answer) brought us something new: the tree did not, so we may
    be in a piece of it cut off from the rest, and the frames that spread what the repair
    brought inside that piece would prune the links that join it back (a 50-node run: two
    pieces of 2 and 3 nodes after the set-up, the next entry 30 s late for them)."""
    state = node(A, B, C)
    state.on_frame(B, Receipt(accepted=((O1, 5),)), now=0)  # along the tree
    state.on_local([(O2, 1)], source=C, now=10)  # a pull brought it
    answer, _ = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=15)
    assert answer == {} and state.eager() == [A, B, C]
    assert state.on_answer(A, [(O1, 5)], {"prune": True}, now=16) == [Graft(A, {O1: 5})]
    assert state.eager() == [A, B, C]
    # Once the guard is over, a duplicate prunes again.
    answer, _ = state.on_frame(A, Receipt(duplicate=((O1, 5),)), now=10 + state.repair_guard)
    assert answer == {"prune": True} and state.lazy() == [A]
    # A graft's answer is a repair too.
    state.on_served(C, Receipt(accepted=((O2, 2),)), now=100)
    assert state.recently_repaired(105) and not state.recently_repaired(111)
