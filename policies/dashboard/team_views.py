"""Dashboard pages for teams and their members (superusers and team admins manage them)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from policies import permissions, services, teams
from policies.actors import Actor
from policies.dashboard.auth import login_required
from policies.models import TeamRole, TeamRoleName


class TeamForm(forms.Form):
    name = forms.CharField(max_length=150, label="New team")


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, label="User name")
    role = forms.ChoiceField(choices=TeamRoleName.choices, initial=TeamRoleName.EDITOR)


def _visible_teams(request: HttpRequest) -> list[Group]:
    user = request.user
    groups = Group.objects.order_by("name")
    if not getattr(user, "is_superuser", False):
        groups = groups.filter(id__in=permissions.team_ids(user))
    return list(groups)


@login_required
@require_http_methods(["GET", "POST"])
def team_list(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = teams.create_team(
                actor=Actor.for_user(request.user), name=form.cleaned_data["name"]
            )
        except services.ValidationFailed as failure:
            form.add_error("name", failure.message)
        else:
            messages.success(request, f"Created team {team.name}.")
            return redirect("dashboard:team", pk=team.pk)
    rows = [
        {
            "team": team,
            "role": permissions.team_role(request.user, team),
            "count": team.user_set.count(),
        }
        for team in _visible_teams(request)
    ]
    return render(
        request,
        "dashboard/teams.html",
        {"rows": rows, "form": form, "can_create": getattr(request.user, "is_superuser", False)},
        status=422 if form.is_bound and form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Group, pk=pk, id__in=[t.pk for t in _visible_teams(request)])
    manage = permissions.can_manage_team(request.user, team)
    form = MemberForm(request.POST if request.POST.get("do") == "add" else None)
    problem = ""
    if request.method == "POST":
        if not manage:
            raise PermissionDenied("you may not manage this team's members")
        actor = Actor.for_user(request.user)
        do = request.POST.get("do")
        try:
            if do == "add":
                if form.is_valid():
                    user = User.objects.filter(username=form.cleaned_data["username"]).first()
                    if user is None:
                        raise services.ValidationFailed({"username": ["no such user"]})
                    teams.add_member(
                        actor=actor, team=team, user=user, role=form.cleaned_data["role"]
                    )
                    messages.success(request, f"Added {user.get_username()}.")
                    return redirect("dashboard:team", pk=team.pk)
            else:
                member = get_object_or_404(User, pk=request.POST.get("user", "0") or 0, groups=team)
                if do == "role":
                    teams.set_role(
                        actor=actor, team=team, user=member, role=request.POST.get("role", "")
                    )
                    messages.success(
                        request, f"{member.get_username()} is now {request.POST['role']}."
                    )
                elif do == "remove":
                    teams.remove_member(actor=actor, team=team, user=member)
                    messages.success(request, f"Removed {member.get_username()}.")
                return redirect("dashboard:team", pk=team.pk)
        except services.ValidationFailed as failure:
            problem = failure.message
    roles = dict(TeamRole.objects.filter(team=team).values_list("user_id", "role"))
    members = [
        {"user": user, "role": roles.get(user.pk, TeamRoleName.EDITOR)}
        for user in team.user_set.order_by("username")
    ]
    return render(
        request,
        "dashboard/team.html",
        {
            "team": team,
            "members": members,
            "manage": manage,
            "form": form,
            "problem": problem,
            "roles": TeamRoleName.choices,
            "is_role_group": team.name in permissions.ROLE_GROUPS,
        },
        status=422 if problem or form.errors else 200,
    )
